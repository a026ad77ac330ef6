/**
 * The sessions API as an app uses it, and /edge/check as nginx auth_request uses it, on each store and
 * format: embedded (v1), Redis (v1) and Redis (resty, shared with flask-resty-shared-session).
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restySignature } from "../../src/modules/sessions/edge-contract.ts";
import { buildTestApp, type TestApp } from "../support/build-test-app.ts";
import { redisUrl } from "../support/engines.ts";

const APP_KEY = "app-key-for-tests-0123456789";
const url = redisUrl();

interface Setup {
	readonly name: string;
	readonly skip: boolean;
	readonly sessions: Record<string, unknown>;
	readonly kvUrl?: string;
}

const prefix = `tollgate_api_test_${Math.random().toString(36).slice(2)}`;
const setups: Setup[] = [
	{ name: "embedded store, v1", skip: false, sessions: { format: "v1" } },
	{
		name: "Redis, v1",
		skip: url === null,
		sessions: { format: "v1", key_prefix: `${prefix}_v1` },
		kvUrl: url ?? "",
	},
	{
		name: "Redis, resty",
		skip: url === null,
		sessions: {
			format: "resty",
			secret: "fishes-fishes-fishes",
			salt: "app_session_salt",
			key_prefix: `${prefix}_resty`,
			cookie_name: "app_session_cookie",
		},
		kvUrl: url ?? "",
	},
];

for (const setup of setups) {
	describe.skipIf(setup.skip)(`sessions API (${setup.name})`, () => {
		let testApp: TestApp;
		const auth = { authorization: `Bearer ${APP_KEY}` };
		let cookieName: string;

		beforeAll(async () => {
			testApp = await buildTestApp({
				sessions: { ...setup.sessions, app_api_keys: [APP_KEY], ttl_seconds: 3_600 },
				...(setup.kvUrl === undefined
					? {}
					: { kv: { url: setup.kvUrl, key_prefix: `${prefix}:` } }),
			});
			cookieName = String(
				setup.sessions.cookie_name ??
					(setup.sessions.format === "resty" ? "session" : "tollgate_session"),
			);
		});
		afterAll(async () => {
			await testApp.close();
			if (url !== null && setup.kvUrl !== undefined) {
				const redis = new Redis(url);
				const keys = await redis.keys(`${prefix}*`);
				if (keys.length > 0) await redis.del(...keys);
				await redis.quit();
			}
		});

		async function createSession(body: Record<string, unknown>) {
			const response = await testApp.app.inject({
				method: "POST",
				url: "/sessions",
				headers: auth,
				payload: body,
			});
			expect(response.statusCode).toBe(201);
			return { response, body: response.json() };
		}

		function check(cookieValue: string | undefined, group?: string) {
			return testApp.app.inject({
				method: "GET",
				url: group === undefined ? "/edge/check" : `/edge/check?group=${encodeURIComponent(group)}`,
				headers:
					cookieValue === undefined ? {} : { cookie: `other=1; ${cookieName}=${cookieValue}` },
			});
		}

		it("creates a session and sets an HttpOnly, Secure, SameSite cookie", async () => {
			const { response, body } = await createSession({
				user_id: "joe",
				data: { email: "joe@gmail.com" },
				groups: ["one", "three"],
			});
			const setCookie = String(response.headers["set-cookie"]);
			expect(setCookie).toMatch(
				new RegExp(
					`^${cookieName}=${body.cookie.value}; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax; Secure$`,
				),
			);
			expect(body.session).toMatchObject({
				user_id: "joe",
				data: { email: "joe@gmail.com" },
				groups: ["one", "three"],
			});
			expect(body.cookie.value).toHaveLength(setup.sessions.format === "resty" ? 64 : 90);
		});

		it("the edge check allows a member (204), refuses a non-member (403) and a missing or forged cookie (401)", async () => {
			const { body } = await createSession({ user_id: "sam", groups: ["two"] });
			const cookie: string = body.cookie.value;
			expect((await check(cookie, "two")).statusCode).toBe(204);
			expect((await check(cookie)).statusCode).toBe(204);
			expect((await check(cookie, "one")).statusCode).toBe(403);
			expect((await check(cookie, "no-such-group")).statusCode).toBe(403);
			expect((await check(undefined, "two")).statusCode).toBe(401);
			const forged = `${cookie.slice(0, -2)}${cookie.endsWith("AA") ? "BB" : "AA"}`;
			expect((await check(forged, "two")).statusCode).toBe(401);
		});

		it("refuses oversized, repeated, non-ASCII and malformed cookies with 401", async () => {
			const { body } = await createSession({ groups: ["two"] });
			const cookie: string = body.cookie.value;
			const attempts = [
				`${cookieName}=${cookie}; filler=${"x".repeat(4_200)}`,
				`${cookieName}=${cookie}; ${cookieName}=${cookie}`,
				`${cookieName}=${cookie.slice(0, -1)}é`,
				`${cookieName}=not-a-session`,
				`${cookieName}=`,
			];
			for (const header of attempts) {
				const response = await testApp.app.inject({
					method: "GET",
					url: "/edge/check?group=two",
					headers: { cookie: header },
				});
				expect(response.statusCode, header.slice(0, 80)).toBe(401);
			}
		});

		it("resolves a cookie to its session, and reads, updates, touches it by id", async () => {
			const { body } = await createSession({
				user_id: "esteban",
				data: { theme: "dark" },
				groups: ["one"],
			});
			const id: string = body.session.id;
			const resolved = await testApp.app.inject({
				method: "POST",
				url: "/sessions/resolve",
				headers: auth,
				payload: { cookie: body.cookie.value },
			});
			expect(resolved.json()).toMatchObject({
				id,
				user_id: "esteban",
				data: { theme: "dark" },
				groups: ["one"],
			});

			const updated = await testApp.app.inject({
				method: "PATCH",
				url: `/sessions/${id}`,
				headers: auth,
				payload: { groups: ["one", "four"] },
			});
			expect(updated.json()).toMatchObject({ data: { theme: "dark" }, groups: ["four", "one"] });
			expect((await check(body.cookie.value, "four")).statusCode).toBe(204);

			const touched = await testApp.app.inject({
				method: "POST",
				url: `/sessions/${id}/touch`,
				headers: auth,
			});
			expect(touched.json().expires_in_seconds).toBeGreaterThan(3_590);
			expect(
				(await testApp.app.inject({ method: "GET", url: `/sessions/${id}`, headers: auth })).json(),
			).toMatchObject({ id });
		});

		it("regenerate issues a new cookie with the same content; the old cookie is dead at once", async () => {
			const { body } = await createSession({
				user_id: "maria",
				data: { step: 2 },
				groups: ["one"],
			});
			const regenerated = await testApp.app.inject({
				method: "POST",
				url: `/sessions/${body.session.id}/regenerate`,
				headers: auth,
			});
			expect(regenerated.statusCode).toBe(200);
			const renewed = regenerated.json();
			expect(renewed.cookie.value).not.toBe(body.cookie.value);
			expect(renewed.session).toMatchObject({
				user_id: "maria",
				data: { step: 2 },
				groups: ["one"],
			});
			expect((await check(body.cookie.value, "one")).statusCode).toBe(401);
			expect((await check(renewed.cookie.value, "one")).statusCode).toBe(204);
		});

		it("destroy kills the cookie at once and expires it in the browser", async () => {
			const { body } = await createSession({ groups: ["one"] });
			const destroyed = await testApp.app.inject({
				method: "DELETE",
				url: `/sessions/${body.session.id}`,
				headers: auth,
			});
			expect(destroyed.statusCode).toBe(204);
			expect(String(destroyed.headers["set-cookie"])).toContain(
				`${cookieName}=; Path=/; Max-Age=0`,
			);
			expect((await check(body.cookie.value, "one")).statusCode).toBe(401);
			expect(
				(
					await testApp.app.inject({
						method: "GET",
						url: `/sessions/${body.session.id}`,
						headers: auth,
					})
				).statusCode,
			).toBe(404);
		});

		it("lists a user's sessions and destroys them all", async () => {
			const user = `user-${Math.random().toString(36).slice(2)}`;
			const first = await createSession({ user_id: user });
			const second = await createSession({ user_id: user });
			const listed = await testApp.app.inject({
				method: "GET",
				url: `/users/${user}/sessions`,
				headers: auth,
			});
			expect(
				listed
					.json()
					.sessions.map((session: { id: string }) => session.id)
					.sort(),
			).toEqual([first.body.session.id, second.body.session.id].sort());
			const destroyed = await testApp.app.inject({
				method: "DELETE",
				url: `/users/${user}/sessions`,
				headers: auth,
			});
			expect(destroyed.json()).toEqual({ destroyed: 2 });
			expect((await check(first.body.cookie.value)).statusCode).toBe(401);
			expect((await check(second.body.cookie.value)).statusCode).toBe(401);
		});

		it("refuses calls without a valid app API key, and names bad fields", async () => {
			expect(
				(await testApp.app.inject({ method: "POST", url: "/sessions", payload: {} })).statusCode,
			).toBe(401);
			const wrongKey = await testApp.app.inject({
				method: "POST",
				url: "/sessions",
				headers: { authorization: "Bearer wrong-key-0000000000" },
				payload: {},
			});
			expect(wrongKey.json().error).toBe("unauthorized");
			const bad = await testApp.app.inject({
				method: "POST",
				url: "/sessions",
				headers: auth,
				payload: { groups: ["has space"] },
			});
			expect(bad.statusCode).toBe(400);
			expect(bad.json().error_description).toMatch(/^body\.groups\.0: /);
		});
	});
}

describe.skipIf(url === null)("sharing sessions with flask-resty-shared-session", () => {
	const secret = "fishes-fishes-fishes";
	const keyPrefix = `${prefix}_flask`;
	let testApp: TestApp;
	let redis: Redis;
	beforeAll(async () => {
		testApp = await buildTestApp({
			sessions: {
				format: "resty",
				secret,
				salt: "app_session_salt",
				key_prefix: keyPrefix,
				cookie_name: "app_session_cookie",
				app_api_keys: [APP_KEY],
			},
			kv: { url, key_prefix: `${prefix}:` },
		});
		redis = new Redis(url ?? "");
	});
	afterAll(async () => {
		await testApp.close();
		const keys = await redis.keys(`${keyPrefix}*`);
		if (keys.length > 0) await redis.del(...keys);
		await redis.quit();
	});

	it("accepts a session written into Redis exactly as the Python package writes it", async () => {
		const sid = "4b3a4c0e-1d2f-4a5b-9c6d-7e8f9a0b1c2d";
		const signature = restySignature(secret, "app_session_salt", sid);
		await redis
			.multi()
			.setex(
				`${keyPrefix}:data:${sid}`,
				2_678_400,
				JSON.stringify({ username: "sam@gmail.com", groups: ["two"] }),
			)
			.setex(`${keyPrefix}:signature:${sid}`, 2_678_400, signature)
			.del(`${keyPrefix}:groups:${sid}`)
			.sadd(`${keyPrefix}:groups:${sid}`, "two")
			.expire(`${keyPrefix}:groups:${sid}`, 2_678_400)
			.exec();
		const cookie = `${sid}.${signature}`;
		const allowed = await testApp.app.inject({
			method: "GET",
			url: "/edge/check?group=two",
			headers: { cookie: `app_session_cookie=${cookie}` },
		});
		expect(allowed.statusCode).toBe(204);
		const resolved = await testApp.app.inject({
			method: "POST",
			url: "/sessions/resolve",
			headers: { authorization: `Bearer ${APP_KEY}` },
			payload: { cookie },
		});
		expect(resolved.json()).toMatchObject({
			id: sid,
			user_id: null,
			data: { username: "sam@gmail.com" },
			groups: ["two"],
		});
	});

	it("writes sessions the Python package reads: JSON data with groups, the cookie's signature, the groups SET", async () => {
		const created = await testApp.app.inject({
			method: "POST",
			url: "/sessions",
			headers: { authorization: `Bearer ${APP_KEY}` },
			payload: { user_id: "joe", data: { username: "joe@gmail.com" }, groups: ["one", "three"] },
		});
		const cookie: string = created.json().cookie.value;
		const [sid, signature] = [cookie.slice(0, 36), cookie.slice(37)];
		expect(JSON.parse((await redis.get(`${keyPrefix}:data:${sid}`)) ?? "null")).toEqual({
			username: "joe@gmail.com",
			user_id: "joe",
			groups: ["one", "three"],
		});
		expect(await redis.get(`${keyPrefix}:signature:${sid}`)).toBe(signature);
		expect((await redis.smembers(`${keyPrefix}:groups:${sid}`)).sort()).toEqual(["one", "three"]);
	});
});
