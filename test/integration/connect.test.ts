/**
 * Logins to a GitLab hub through Tollgate (connect), with an HTTP client: the authorization code flow with
 * a real OpenID Connect provider on GitLab's endpoints (test/support/fake-gitlab.ts), the ARCmanager
 * frontend's cookies, tokens kept server-side and encrypted (no Set-Cookie ever carries one), refresh
 * (ahead of expiry, on a 401, once for 20 concurrent requests), a refresh the hub refuses, personal access
 * tokens, logout with revocation at the hub, the pass-through (allow-list, SSRF refusals, paging headers,
 * retries, redirects, timeouts, streamed bodies), CORS and CSRF, and the purge of orphaned tokens.
 * @see issue 16
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
	ALICE,
	BOB,
	type ConnectStack,
	HUB,
	loginOverHttp,
	PREFIX,
	rawRequest,
	startConnectStack,
} from "../support/connect.ts";
import type { CookieJar } from "../support/cookie-jar.ts";

const APP_ORIGIN = "http://localhost:5173";
const APP_API_KEY = "connect-test-app-api-key-0123";

describe("connect with a GitLab hub", () => {
	let stack: ConnectStack;

	beforeAll(async () => {
		stack = await startConnectStack({
			overrides: { sessions: { app_api_keys: [APP_API_KEY] } },
			connect: {
				app_url: `${APP_ORIGIN}/index.html`,
				cors_origins: [APP_ORIGIN],
				upstream_timeout_ms: 1_000,
				// Nothing listens on port 9 (discard): a hub that is down.
				hubs: { broken: { issuer: "http://127.0.0.1:9", client_id: "x", client_secret: "y" } },
				proxy_allow: [
					"GET /api/v4/user",
					"GET /api/v4/projects",
					"HEAD /api/v4/projects",
					"PUT /api/v4/projects",
					"POST /api/v4/projects",
					"GET /api/v4/flaky",
					"POST /api/v4/flaky",
					"GET /api/v4/redirect-away",
					"GET /api/v4/redirect-home",
					"GET /api/v4/hang",
				],
			},
		});
	});
	afterAll(async () => {
		await stack?.close();
	});

	const api = (path: string) => `${stack.base}${PREFIX}${path}`;
	/** A request as the browser holding `jar` makes it to a route below the API prefix. */
	const as = (jar: CookieJar, init: RequestInit = {}) => ({
		...init,
		headers: { ...(init.headers as Record<string, string>), cookie: jar.header(PREFIX) },
	});

	it("logs in over HTTP: PKCE S256, state and nonce to the hub; 307 to the app with the frontend's cookies; no cookie carries a token", async () => {
		const login = await loginOverHttp(stack.base, stack.fake, ALICE.username);
		const authorize = login.authorizeUrl.searchParams;
		expect(authorize.get("code_challenge_method")).toBe("S256");
		expect(authorize.get("code_challenge")).toMatch(/^[A-Za-z0-9_-]{43}$/);
		expect(authorize.get("state")).toMatch(/^[A-Za-z0-9_-]{20,}$/);
		expect(authorize.get("nonce")).toMatch(/^[A-Za-z0-9_-]{20,}$/);
		expect(authorize.get("scope")).toBe("openid profile api");
		expect(authorize.get("redirect_uri")).toBe(
			`${stack.base}${PREFIX}/auth/callback?datahub=${HUB}`,
		);

		expect(login.callback.status).toBe(307);
		expect(login.callback.headers.get("location")).toBe(`${APP_ORIGIN}/index.html`);
		const cookies = login.callback.headers.getSetCookie();
		const named = (name: string) => cookies.find((line) => line.startsWith(`${name}=`)) ?? "";
		expect(named("data")).toMatch(/; HttpOnly; Path=\/arcmanager\/api; SameSite=Strict; Secure$/);
		expect(named("logged_in")).toBe("logged_in=true; Path=/; SameSite=Strict; Secure");
		expect(named("username")).toBe("username=Alice%20M%C3%BCller; Path=/; SameSite=Strict; Secure");
		expect(named("timer")).toMatch(/^timer=\d{10}\.\d+; Path=\/; SameSite=Strict; Secure$/);
		expect(
			Math.abs(Number(/timer=([\d.]+)/.exec(named("timer"))?.[1]) - Date.now() / 1_000),
		).toBeLessThan(3_600);
		expect(named("error")).toMatch(/^error="";.*Max-Age=0/);

		const tokens = [...stack.fake.issuedAccessTokens, ...stack.fake.issuedRefreshTokens];
		expect(tokens.length).toBeGreaterThanOrEqual(2);
		for (const line of login.setCookies)
			for (const token of tokens) expect(line).not.toContain(token);

		const user = await fetch(api(`/proxy/${HUB}/api/v4/user`), as(login.jar));
		expect(user.status).toBe(200);
		expect(await user.json()).toMatchObject({ id: ALICE.id, username: ALICE.username });
		const seen = stack.fake.apiRequests.at(-1);
		expect(seen?.headers.cookie).toBeUndefined();
		expect(stack.fake.issuedAccessTokens).toContain(seen?.headers.authorization?.slice(7));
	});

	it("keeps the tokens encrypted at rest and out of the log", async () => {
		const before = stack.fake.issuedAccessTokens.length;
		await loginOverHttp(stack.base, stack.fake, ALICE.username);
		const accessToken = stack.fake.issuedAccessTokens[before] ?? "";
		const rows = await stack.testApp.storage.sql.db
			.withTables<{ connect_grants: { sealed: Uint8Array; key_id: string } }>()
			.selectFrom("connect_grants")
			.selectAll()
			.execute();
		expect(rows.length).toBeGreaterThan(0);
		for (const row of rows) {
			expect(Buffer.from(row.sealed).toString("latin1")).not.toContain(accessToken);
			expect(row.key_id).toBe("dev");
		}
		expect(JSON.stringify(stack.testApp.logs())).not.toContain(accessToken);
	});

	it("answers an unknown hub 400, a missing or forged cookie 401 (not 422), and a hub that is down with the error cookie", async () => {
		const unknown = await fetch(api("/auth/login?datahub=freiburg"), { redirect: "manual" });
		expect(unknown.status).toBe(400);
		expect(((await unknown.json()) as { detail: string }).detail).toContain(
			'Unknown DataHUB "freiburg"',
		);
		for (const cookie of [undefined, "data=forged.value"]) {
			const refresh = await fetch(api("/auth/refresh"), {
				headers: cookie === undefined ? {} : { cookie },
			});
			expect(refresh.status).toBe(401);
			expect(await refresh.json()).toMatchObject({ detail: "You are not logged in" });
		}
		const down = await fetch(api("/auth/login?datahub=broken"), { redirect: "manual" });
		expect(down.status).toBe(307);
		expect(down.headers.get("location")).toBe(`${APP_ORIGIN}/index.html`);
		expect(down.headers.getSetCookie()).toContain(
			'error="DataHUB not available"; Path=/; SameSite=Strict; Secure',
		);
		expect((await fetch(`${stack.base}/readyz`)).status).toBe(200);
		const noBody = await fetch(api("/auth/addPAT"), {
			method: "PUT",
			headers: { "content-type": "application/json" },
			body: "{}",
		});
		expect(noBody.status).toBe(422);
		expect(((await noBody.json()) as { detail: string }).detail).toMatch(
			/^Try clearing your browser data and cookies! ERROR: body\.pat/,
		);
	});

	it("refreshes once for 20 concurrent requests that meet an expired token, and each request then succeeds", async () => {
		const login = await loginOverHttp(stack.base, stack.fake, ALICE.username);
		stack.fake.expireAccessTokens();
		const before = stack.fake.grantsOf("refresh_token");
		const answers = await Promise.all(
			Array.from({ length: 20 }, () => fetch(api(`/proxy/${HUB}/api/v4/user`), as(login.jar))),
		);
		expect(answers.map((answer) => answer.status)).toEqual(Array(20).fill(200));
		expect(stack.fake.grantsOf("refresh_token") - before).toBe(1);
	});

	it("refreshes a token shortly before it expires, before using it", async () => {
		const login = await loginOverHttp(stack.base, stack.fake, ALICE.username);
		const before = stack.fake.grantsOf("refresh_token");
		const issued = stack.fake.issuedAccessTokens.length;
		stack.testApp.clock.advanceMs((7_200 - 30) * 1_000);
		try {
			const user = await fetch(api(`/proxy/${HUB}/api/v4/user`), as(login.jar));
			expect(user.status).toBe(200);
			expect(stack.fake.grantsOf("refresh_token") - before).toBe(1);
			const used = stack.fake.apiRequests.at(-1)?.headers.authorization?.slice(7);
			expect(stack.fake.issuedAccessTokens.indexOf(used ?? "")).toBeGreaterThanOrEqual(issued);
		} finally {
			stack.testApp.clock.advanceMs(-(7_200 - 30) * 1_000);
		}
	});

	it("GET /auth/refresh rotates the tokens and sets a new timer", async () => {
		const login = await loginOverHttp(stack.base, stack.fake, ALICE.username);
		const before = stack.fake.grantsOf("refresh_token");
		const refresh = await fetch(api("/auth/refresh"), as(login.jar));
		expect(refresh.status).toBe(200);
		expect(await refresh.text()).toBe("Session refresh was successful!");
		const cookies = refresh.headers.getSetCookie();
		expect(cookies.some((line) => /^timer=\d+\.\d+;/.test(line))).toBe(true);
		expect(cookies.some((line) => line.startsWith("data=") && line.includes("HttpOnly"))).toBe(
			true,
		);
		expect(stack.fake.grantsOf("refresh_token") - before).toBe(1);
		const user = await fetch(api(`/proxy/${HUB}/api/v4/user`), as(login.jar));
		expect(user.status).toBe(200);
	});

	it("ends the session when the hub refuses the refresh token: 401, the cookies cleared, the tokens deleted", async () => {
		const login = await loginOverHttp(stack.base, stack.fake, BOB.username);
		await stack.fake.revokeRefreshTokens();
		const refresh = await fetch(api("/auth/refresh"), as(login.jar));
		expect(refresh.status).toBe(401);
		expect(await refresh.json()).toMatchObject({
			detail: "Could not refresh access token! Please login again!",
		});
		const cleared = refresh.headers.getSetCookie();
		for (const name of ["data", "logged_in", "username", "timer", "pat"])
			expect(
				cleared.some((line) => line.startsWith(`${name}=""`) && line.includes("Max-Age=0")),
			).toBe(true);
		const after = await fetch(api(`/proxy/${HUB}/api/v4/user`), as(login.jar));
		expect(after.status).toBe(401);
		expect(await after.json()).toMatchObject({ detail: "You are not logged in" });
	});

	it("a proxied call whose refresh the hub refuses ends the session with 401 and cleared cookies", async () => {
		const login = await loginOverHttp(stack.base, stack.fake, BOB.username);
		await stack.fake.revokeRefreshTokens();
		stack.fake.expireAccessTokens();
		const answer = await fetch(api(`/proxy/${HUB}/api/v4/user`), as(login.jar));
		expect(answer.status).toBe(401);
		expect(((await answer.json()) as { detail: string }).detail).toContain("please login again");
		expect(answer.headers.getSetCookie().some((line) => line.startsWith('logged_in=""'))).toBe(
			true,
		);
	});

	it("takes a personal access token only after the hub confirms it is the user's own, then uses it", async () => {
		const login = await loginOverHttp(stack.base, stack.fake, ALICE.username);
		const addPat = (pat: string, headers: Record<string, string> = {}) =>
			fetch(
				api("/auth/addPAT"),
				as(login.jar, {
					method: "PUT",
					headers: { "content-type": "application/json", ...headers },
					body: JSON.stringify({ pat }),
				}),
			);
		const unknown = await addPat("glpat-not-a-real-token");
		expect(unknown.status).toBe(400);
		expect(((await unknown.json()) as { detail: string }).detail).toBe(
			"The DataHUB did not accept this personal access token.",
		);
		const bobs = await addPat(stack.fake.addPersonalAccessToken(BOB.id));
		expect(bobs.status).toBe(403);
		const own = stack.fake.addPersonalAccessToken(ALICE.id);
		const crossSite = await addPat(own, { origin: "https://evil.example" });
		expect(crossSite.status).toBe(403);
		const added = await addPat(own);
		expect(added.status).toBe(200);
		expect(await added.text()).toBe("Your Personal Access token was added successfully!");
		expect(added.headers.getSetCookie()).toContain("pat=true; Path=/; SameSite=Strict; Secure");
		for (const line of added.headers.getSetCookie()) expect(line).not.toContain(own);

		stack.fake.expireAccessTokens();
		const before = stack.fake.grantsOf("refresh_token");
		const user = await fetch(api(`/proxy/${HUB}/api/v4/user`), as(login.jar));
		expect(user.status).toBe(200);
		expect(stack.fake.apiRequests.at(-1)?.headers.authorization).toBe(`Bearer ${own}`);
		expect(stack.fake.grantsOf("refresh_token")).toBe(before);
	});

	it("logs out: the tokens revoked at the hub, the session gone, every cookie cleared as the original did", async () => {
		const issued = stack.fake.issuedAccessTokens.length;
		const login = await loginOverHttp(stack.base, stack.fake, ALICE.username);
		const accessToken = stack.fake.issuedAccessTokens[issued] ?? "";
		expect(await stack.fake.acceptsAccessToken(accessToken)).toBe(true);
		const logout = await fetch(api("/auth/logout"), as(login.jar));
		expect(logout.status).toBe(200);
		expect(await logout.text()).toBe("logout successful");
		const cleared = logout.headers.getSetCookie();
		expect(
			cleared
				.filter((line) => line.startsWith('data=""'))
				.map((line) => /Path=([^;]+)/.exec(line)?.[1]),
		).toEqual(["/arcmanager/api", "/"]);
		for (const name of ["logged_in", "username", "timer", "pat"])
			expect(cleared.some((line) => line.startsWith(`${name}=""`))).toBe(true);
		expect(await stack.fake.acceptsAccessToken(accessToken)).toBe(false);
		const after = await fetch(api(`/proxy/${HUB}/api/v4/user`), as(login.jar));
		expect(after.status).toBe(401);
		const again = await fetch(api("/auth/logout"));
		expect(again.status).toBe(200);
	});

	it("refuses a replayed callback, and a callback in a browser that did not start the login", async () => {
		const first = await loginOverHttp(stack.base, stack.fake, ALICE.username);
		expect(first.callback.status).toBe(307);
		const replay = await fetch(first.callback.url, {
			headers: { cookie: first.jar.header(PREFIX) },
		});
		expect(replay.status).toBe(200);
		expect(await replay.text()).toBe(
			"<h1>mismatching_state: CSRF Warning! State not equal in request and response.</h1>",
		);
	});

	it("refuses crafted pass-through paths (no SSRF) before anything reaches the hub", async () => {
		const login = await loginOverHttp(stack.base, stack.fake, ALICE.username);
		const proxy = `${PREFIX}/proxy/${HUB}`;
		const crafted = [
			`${proxy}/api/v4/../../oauth/token`,
			`${proxy}/api/v4/projects/../../../etc/passwd`,
			`${proxy}/api/v4/projects/%2e%2e/%2e%2e/oauth/token`,
			`${proxy}/api/v4/projects/%2E%2E%2F%2E%2E%2Foauth`,
			`${proxy}/api/v4/projects%2f..%2f..%2foauth`,
			`${proxy}/api/v4/projects/1%5c..%5c..%5coauth`,
			`${proxy}/api/v4/projects\\..\\oauth`,
			`${proxy}/api/v4//projects`,
			`${proxy}/api/v4/./projects`,
			`${proxy}/api/v4/projects/%252e%252e/oauth`,
			`${proxy}/api/v4/%70rojects`,
			`${proxy}/api/v4/projects/%00`,
			`${proxy}/api/v4/projects/%zz`,
			`${proxy}/http://169.254.169.254/latest/meta-data`,
			`${proxy}//evil.example/api/v4/projects`,
			`${proxy}/oauth/token`,
			`${proxy}@evil.example/api/v4/projects`,
			`${PREFIX}/proxy/evil.example/api/v4/projects`,
			`${PREFIX}/proxy/${HUB}%2f..%2fother/api/v4/projects`,
			`${proxy}/api/v4/projects?x=%0d%0aHost:%20evil`,
			`${proxy}/api/v4/projects/1/\u00e9`,
		];
		const seenBefore = stack.fake.apiRequestCount;
		const statuses: Record<string, number> = {};
		for (const path of crafted) {
			const answer = await rawRequest(stack.base, {
				path,
				headers: { cookie: login.jar.header(PREFIX) },
			});
			statuses[path] = answer.status;
		}
		for (const [path, status] of Object.entries(statuses))
			expect([400, 403, 404], `${path} answered ${status}`).toContain(status);
		expect(stack.fake.apiRequestCount).toBe(seenBefore);
	});

	it("passes on only what the allow-list names; HEAD and GitLab's paging headers come back, Link rewritten", async () => {
		const login = await loginOverHttp(stack.base, stack.fake, ALICE.username);
		const notListed = await fetch(api(`/proxy/${HUB}/api/v4/users`), as(login.jar));
		expect(notListed.status).toBe(403);
		const wrongMethod = await fetch(
			api(`/proxy/${HUB}/api/v4/user`),
			as(login.jar, { method: "DELETE" }),
		);
		expect(wrongMethod.status).toBe(403);
		const page = await fetch(api(`/proxy/${HUB}/api/v4/projects?page=2`), as(login.jar));
		expect(page.status).toBe(200);
		expect(page.headers.get("x-total-pages")).toBe("3");
		expect(page.headers.get("x-page")).toBe("2");
		expect(page.headers.get("set-cookie")).toBeNull();
		expect(page.headers.get("link")).toContain(
			`<${stack.base}${PREFIX}/proxy/${HUB}/api/v4/projects?page=3&per_page=20>; rel="next"`,
		);
		expect(page.headers.get("link")).not.toContain(stack.fake.url);
		const body = await page.text();
		expect(body.length).toBeGreaterThan(900);
		expect(JSON.parse(body)[0].id).toBe(21);
		const head = await fetch(
			api(`/proxy/${HUB}/api/v4/projects`),
			as(login.jar, { method: "HEAD" }),
		);
		expect(head.status).toBe(200);
		expect(head.headers.get("x-total-pages")).toBe("3");
	});

	it("retries an idempotent call on 503 after Retry-After, never a POST; refuses a redirect elsewhere; a hub that hangs is 504", async () => {
		const login = await loginOverHttp(stack.base, stack.fake, ALICE.username);
		stack.fake.flakyFailures = 2;
		stack.fake.flakyRetryAfter = "1";
		const started = performance.now();
		const retried = await fetch(api(`/proxy/${HUB}/api/v4/flaky`), as(login.jar));
		expect(retried.status).toBe(200);
		expect(performance.now() - started).toBeGreaterThanOrEqual(2_000);
		expect(stack.fake.flakyFailures).toBe(0);

		stack.fake.flakyFailures = 1;
		stack.fake.flakyRetryAfter = undefined;
		const posted = await fetch(
			api(`/proxy/${HUB}/api/v4/flaky`),
			as(login.jar, { method: "POST" }),
		);
		expect(posted.status).toBe(503);
		stack.fake.flakyFailures = 0;

		stack.fake.flakyFailures = 1;
		stack.fake.flakyRetryAfter = "3600";
		const tooLong = await fetch(api(`/proxy/${HUB}/api/v4/flaky`), as(login.jar));
		expect(tooLong.status).toBe(503);
		expect(tooLong.headers.get("retry-after")).toBe("3600");
		stack.fake.flakyFailures = 0;

		const away = await fetch(
			api(`/proxy/${HUB}/api/v4/redirect-away`),
			as(login.jar, { redirect: "manual" }),
		);
		expect(away.status).toBe(502);
		const home = await fetch(
			api(`/proxy/${HUB}/api/v4/redirect-home`),
			as(login.jar, { redirect: "manual" }),
		);
		expect(home.status).toBe(302);
		expect(home.headers.get("location")).toBe(`${stack.base}${PREFIX}/proxy/${HUB}/api/v4/user`);

		const hang = await fetch(api(`/proxy/${HUB}/api/v4/hang`), as(login.jar));
		expect(hang.status).toBe(504);
		expect(await hang.json()).toMatchObject({ detail: "DataHUB currently not available!!" });
	});

	it("streams a request body of several MiB to the hub whole, and refuses a cross-site write", async () => {
		const login = await loginOverHttp(stack.base, stack.fake, ALICE.username);
		const body = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
		const { createHash } = await import("node:crypto");
		const put = await fetch(
			api(`/proxy/${HUB}/api/v4/projects/5/echo?ref=main`),
			as(login.jar, {
				method: "PUT",
				headers: { "content-type": "application/octet-stream" },
				body,
			}),
		);
		expect(put.status).toBe(200);
		expect(await put.json()).toMatchObject({
			method: "PUT",
			bytes: body.length,
			sha256: createHash("sha256").update(body).digest("hex"),
			content_type: "application/octet-stream",
			query: "?ref=main",
		});
		const crossSite = await fetch(
			api(`/proxy/${HUB}/api/v4/projects/5/echo`),
			as(login.jar, { method: "POST", headers: { "sec-fetch-site": "cross-site" }, body: "x" }),
		);
		expect(crossSite.status).toBe(403);
	});

	it("answers CORS for the configured origin with credentials and the exposed headers, and not for others", async () => {
		const preflight = await fetch(api("/auth/addPAT"), {
			method: "OPTIONS",
			headers: {
				origin: APP_ORIGIN,
				"access-control-request-method": "PUT",
				"access-control-request-headers": "content-type",
			},
		});
		expect(preflight.status).toBe(204);
		expect(preflight.headers.get("access-control-allow-origin")).toBe(APP_ORIGIN);
		expect(preflight.headers.get("access-control-allow-credentials")).toBe("true");
		expect(preflight.headers.get("access-control-allow-methods")).toContain("PUT");
		const simple = await fetch(api("/auth/logout"), { headers: { origin: APP_ORIGIN } });
		expect(simple.headers.get("access-control-expose-headers")).toBe(
			"total-pages, missing-package",
		);
		const other = await fetch(api("/auth/addPAT"), {
			method: "OPTIONS",
			headers: { origin: "https://evil.example", "access-control-request-method": "PUT" },
		});
		expect(other.headers.get("access-control-allow-origin")).toBeNull();
	});

	it("purges the tokens of sessions that ended elsewhere (a leased job)", async () => {
		const login = await loginOverHttp(stack.base, stack.fake, ALICE.username);
		const data = login.jar.value("data") ?? "";
		const appKey = { authorization: `Bearer ${APP_API_KEY}` };
		const resolved = await stack.testApp.app.inject({
			method: "POST",
			url: "/sessions/resolve",
			headers: appKey,
			payload: { cookie: data },
		});
		const sessionId: string = resolved.json().id;
		const grantOf = () =>
			stack.testApp.storage.sql.db
				.withTables<{ connect_grants: { session_id: string } }>()
				.selectFrom("connect_grants")
				.select("session_id")
				.where("session_id", "=", sessionId)
				.execute();
		expect(await grantOf()).toHaveLength(1);
		// The session ends in the sessions module alone, as the sessions API (or an expiry) ends one.
		const destroyed = await stack.testApp.app.inject({
			method: "DELETE",
			url: `/sessions/${sessionId}`,
			headers: appKey,
		});
		expect(destroyed.statusCode).toBeLessThan(300);
		const job = stack.testApp.jobs.find((candidate) => candidate.name === "connect.purge");
		await job?.run({ signal: new AbortController().signal, nowMs: Date.now() });
		expect(await grantOf()).toHaveLength(0);
		const after = await fetch(api(`/proxy/${HUB}/api/v4/user`), as(login.jar));
		expect(after.status).toBe(401);
	});
});
