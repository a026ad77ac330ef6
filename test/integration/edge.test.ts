/**
 * The edge with every real piece on loopback: nginx + Lua + Redis + Tollgate + a small upstream app.
 * Each assertion runs on both paths: the Lua check (/api/...) and plain nginx auth_request (/plain/...),
 * and in both session formats.
 * @see issue 3 (sessions + edge)
 */
import { randomBytes, randomUUID } from "node:crypto";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { v1SessionId } from "../../src/modules/sessions/edge-contract.ts";
import { buildTestApp, type TestApp } from "../support/build-test-app.ts";
import { nginxEdgeSkipReason, type RunningEdge, startNginxEdge } from "../support/nginx-edge.ts";
import { hasRedisServer, PrivateRedis } from "../support/redis-server.ts";

const skipReason =
	nginxEdgeSkipReason() ?? (hasRedisServer() ? null : "redis-server is not installed");
if (skipReason !== null && process.env.CI === "true")
	throw new Error(`CI needs the nginx edge: ${skipReason}`);

const APP_KEY = "edge-test-app-key-0123456789";
const vectors = JSON.parse(
	readFileSync(new URL("../vectors/sessions.json", import.meta.url), "utf8"),
) as {
	resty: { secret: string; salt: string; sid: string; signature: string; cookie: string }[];
	v1: { secret: string; id: string; session_id: string; cookie: string }[];
};
// The resty vector is the original test app's configuration (secret "fishes", salt "app_session_salt").
const restyVector = vectors.resty[0];
const v1Vector = vectors.v1[0];

// The module's method API as an operator would script it; `?skip_verify=1` tries a group check first.
const EXPLICIT_API_LOCATION = `
		location ~ ^/explicit/groups/(?<group_id>[^/]+)/ {
			access_by_lua_block {
				local edge = require "resty.tollgate_session"
				local session, err, status = edge.new(tollgate_edge)
				if not session then return ngx.exit(status) end
				local ok
				if ngx.var.arg_skip_verify ~= "1" then
					ok, err, status = session:verify_signature()
					if not ok then return ngx.exit(status) end
				end
				ok, err, status = session:is_group_member(ngx.var.group_id)
				session:close()
				if not ok then return ngx.exit(status) end
			}
			include group_cache.conf;
		}`;

class UpstreamApp {
	readonly hits = new Map<string, number>();
	readonly cookiesSeen: (string | undefined)[] = [];
	readonly server: Server = createServer((request, response) => {
		const path = request.url ?? "";
		this.hits.set(path, (this.hits.get(path) ?? 0) + 1);
		this.cookiesSeen.push(request.headers.cookie);
		response.writeHead(200, {
			"content-type": "application/json",
			"cache-control": "max-age=60",
			"set-cookie": "upstream_session=leaks-if-cached; Path=/",
		});
		response.end(
			JSON.stringify({
				path,
				group: request.headers["x-tollgate-group"],
				response_id: randomUUID(),
			}),
		);
	});

	async listen(): Promise<number> {
		this.server.listen(0, "127.0.0.1");
		await once(this.server, "listening");
		return (this.server.address() as AddressInfo).port;
	}
}

for (const format of ["v1", "resty"] as const) {
	describe.skipIf(skipReason !== null)(`nginx edge (${format} sessions)`, () => {
		const cookieName = format === "v1" ? "tollgate_session" : "app_session_cookie";
		const keyPrefix = format === "v1" ? "edge_v1" : "app_session_prefix";
		const vector = format === "v1" ? v1Vector : restyVector;
		const secret = vector?.secret ?? "";
		const salt = restyVector?.salt ?? "";
		let redis: PrivateRedis;
		let tollgate: TestApp;
		let upstream: UpstreamApp;
		let edge: RunningEdge;
		const cookies: Record<string, string> = {};
		const ids: Record<string, string> = {};

		async function createSession(name: string, groups: string[]): Promise<void> {
			const response = await tollgate.app.inject({
				method: "POST",
				url: "/sessions",
				headers: { authorization: `Bearer ${APP_KEY}` },
				payload: { user_id: name, groups },
			});
			cookies[name] = response.json().cookie.value;
			ids[name] = response.json().session.id;
		}

		async function createSessions(): Promise<void> {
			await createSession("joe", ["one", "three"]);
			await createSession("esteban", ["one", "four"]);
			await createSession("sam", ["two"]);
		}

		function get(path: string, cookie?: string): Promise<Response> {
			return fetch(`${edge.url}${path}`, { headers: cookie === undefined ? {} : { cookie } });
		}

		const as = (name: string) => `${cookieName}=${cookies[name]}`;

		beforeAll(async () => {
			redis = await PrivateRedis.start();
			tollgate = await buildTestApp({
				kv: { url: redis.url },
				sessions: {
					format,
					secret,
					salt,
					cookie_name: cookieName,
					key_prefix: keyPrefix,
					app_api_keys: [APP_KEY],
				},
			});
			const tollgateUrl = await tollgate.app.listen({ host: "127.0.0.1", port: 0 });
			upstream = new UpstreamApp();
			const appPort = await upstream.listen();
			edge = await startNginxEdge({
				tollgatePort: Number(new URL(tollgateUrl).port),
				appPort,
				redisPort: redis.port,
				format,
				secret,
				salt,
				cookieName,
				keyPrefix,
				extraServerConfig: EXPLICIT_API_LOCATION,
			});
			await createSessions();
		}, 60_000);

		afterAll(async () => {
			await edge?.stop();
			await tollgate?.close();
			upstream?.server.close();
			await redis?.stop();
		});

		for (const base of ["/api", "/plain"]) {
			describe(base === "/api" ? "checked in Lua" : "checked through auth_request", () => {
				it("serves members of a group one cached response, without Set-Cookie and without their cookie upstream", async () => {
					const path = `${base}/groups/one/report-${randomUUID()}`;
					const first = await get(path, as("joe"));
					expect(first.status).toBe(200);
					expect(first.headers.get("x-cache-status")).toBe("MISS");
					const second = await get(path, as("esteban"));
					expect(second.status).toBe(200);
					expect(second.headers.get("x-cache-status")).toBe("HIT");
					type Body = { response_id: string; group: string };
					const [firstBody, secondBody] = [
						(await first.json()) as Body,
						(await second.json()) as Body,
					];
					expect(secondBody.response_id).toBe(firstBody.response_id);
					expect(firstBody.group).toBe("one");
					expect(upstream.hits.get(path)).toBe(1);
					expect(first.headers.get("set-cookie")).toBeNull();
					expect(second.headers.get("set-cookie")).toBeNull();
					expect(upstream.cookiesSeen.every((cookie) => cookie === undefined)).toBe(true);
				});

				it("refuses a non-member with 403 even when the response is cached", async () => {
					const path = `${base}/groups/one/report`;
					await get(path, as("joe"));
					const refused = await get(path, as("sam"));
					expect(refused.status).toBe(403);
					expect(await refused.text()).not.toContain("response_id");
				});

				it("refuses a missing, forged, malformed, repeated or oversized cookie with 401", async () => {
					const path = `${base}/groups/one/report`;
					const joe = cookies.joe ?? "";
					const forged = `${joe.slice(0, -2)}${joe.endsWith("AA") ? "BB" : "AA"}`;
					const attempts = [
						undefined,
						`${cookieName}=${forged}`,
						`${cookieName}=${joe.slice(0, -1)}`,
						`${cookieName}=garbage`,
						`${as("joe")}; ${as("joe")}`,
						`${as("joe")}; padding=${"x".repeat(4_200)}`,
					];
					for (const cookie of attempts) {
						expect((await get(path, cookie)).status, String(cookie).slice(0, 60)).toBe(401);
					}
				});

				it("recomputes the cookie's HMAC: keys planted in Redis for an unsigned cookie do not let it in", async () => {
					const raw = new Redis(redis.url);
					let cookie: string;
					let sessionId: string;
					if (format === "resty") {
						sessionId = randomUUID();
						cookie = `${sessionId}.${"A".repeat(27)}`;
						await raw.setex(`${keyPrefix}:signature:${sessionId}`, 600, "A".repeat(27));
					} else {
						const id = randomBytes(32).toString("base64url");
						cookie = `v1.${id}.${"A".repeat(43)}`;
						sessionId = v1SessionId(id);
					}
					await raw.setex(`${keyPrefix}:data:${sessionId}`, 600, "{}");
					await raw.sadd(`${keyPrefix}:groups:${sessionId}`, "one");
					await raw.quit();
					expect((await get(`${base}/groups/one/report`, `${cookieName}=${cookie}`)).status).toBe(
						401,
					);
				});

				it("admits the golden vector cookie (test/vectors/sessions.json) once its keys are in Redis", async () => {
					const raw = new Redis(redis.url);
					const sessionId =
						format === "v1" ? (v1Vector?.session_id ?? "") : (restyVector?.sid ?? "");
					if (format === "resty")
						await raw.setex(
							`${keyPrefix}:signature:${sessionId}`,
							600,
							restyVector?.signature ?? "",
						);
					await raw.setex(
						`${keyPrefix}:data:${sessionId}`,
						600,
						JSON.stringify({ username: "sam@gmail.com", groups: ["two"] }),
					);
					await raw.sadd(`${keyPrefix}:groups:${sessionId}`, "two");
					await raw.quit();
					expect(
						(await get(`${base}/groups/two/report`, `${cookieName}=${vector?.cookie}`)).status,
					).toBe(200);
					expect(
						(await get(`${base}/groups/one/report`, `${cookieName}=${vector?.cookie}`)).status,
					).toBe(403);
				});

				it("refuses an expired session with 401", async () => {
					await createSession("short-lived", ["one"]);
					const raw = new Redis(redis.url);
					const id = ids["short-lived"] ?? "";
					await raw.del(
						`${keyPrefix}:data:${id}`,
						`${keyPrefix}:signature:${id}`,
						`${keyPrefix}:groups:${id}`,
					);
					await raw.quit();
					expect((await get(`${base}/groups/one/report`, as("short-lived"))).status).toBe(401);
				});

				it("refuses a destroyed session at once, and the old cookie of a regenerated one", async () => {
					await createSession("leaver", ["one"]);
					await createSession("rotator", ["one"]);
					const path = `${base}/groups/one/report`;
					expect((await get(path, as("leaver"))).status).toBe(200);
					await tollgate.app.inject({
						method: "DELETE",
						url: `/sessions/${ids.leaver}`,
						headers: { authorization: `Bearer ${APP_KEY}` },
					});
					expect((await get(path, as("leaver"))).status).toBe(401);

					const oldCookie = as("rotator");
					const regenerated = await tollgate.app.inject({
						method: "POST",
						url: `/sessions/${ids.rotator}/regenerate`,
						headers: { authorization: `Bearer ${APP_KEY}` },
					});
					expect((await get(path, oldCookie)).status).toBe(401);
					expect((await get(path, `${cookieName}=${regenerated.json().cookie.value}`)).status).toBe(
						200,
					);
				});
			});
		}

		it("the method API: verify_signature then is_group_member admits a member, refuses others, and refuses a group check before verification", async () => {
			expect((await get("/explicit/groups/one/report", as("joe"))).status).toBe(200);
			expect((await get("/explicit/groups/one/report", as("sam"))).status).toBe(403);
			expect((await get("/explicit/groups/one/report?skip_verify=1", as("joe"))).status).toBe(401);
		});

		it("answers 503 on both paths while Redis is down, and recovers when it returns", async () => {
			await redis.stop();
			expect((await get("/api/groups/one/report", as("joe"))).status).toBe(503);
			expect((await get("/plain/groups/one/report", as("joe"))).status).toBe(503);
			await redis.restart();
			for (let attempt = 0; attempt < 40; attempt += 1) {
				if ((await tollgate.app.inject({ method: "GET", url: "/readyz" })).statusCode === 200)
					break;
				await new Promise((resolve) => setTimeout(resolve, 100));
			}
			await createSession("returning", ["one"]);
			expect((await get("/api/groups/one/report", as("returning"))).status).toBe(200);
			// Redis kept nothing on disk: give the other tests (run in any order) their sessions back.
			await createSessions();
		});
	});
}
