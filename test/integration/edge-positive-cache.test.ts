/**
 * The edge's positive cache, with every real piece on loopback: nginx + Lua + Redis + Tollgate. The cache
 * here keeps an answer for an hour, so only Tollgate's invalidations, a lost subscription or missing
 * heartbeats can end it: a change made in Redis behind Tollgate's back shows which one is in force.
 * How soon an invalidation arrives is measured by `npm run bench -- edge-invalidation`, not here.
 * @see issue 19 §2 (docs/edge-contract.md, "Positive cache")
 */
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestApp, type TestApp } from "../support/build-test-app.ts";
import { nginxEdgeSkipReason, type RunningEdge, startNginxEdge } from "../support/nginx-edge.ts";
import { hasRedisServer, PrivateRedis } from "../support/redis-server.ts";

const skipReason =
	nginxEdgeSkipReason() ?? (hasRedisServer() ? null : "redis-server is not installed");
if (skipReason !== null && process.env.CI === "true")
	throw new Error(`CI needs the nginx edge: ${skipReason}`);

const APP_KEY = "edge-cache-test-app-key-0123456789";
const SECRET = "edge-cache-test-secret-0123456789abcdef";
const KEY_PREFIX = "edge_cache";
const COOKIE_NAME = "tollgate_session";
const STATUS_LOCATION = `
		location = /_positive_cache {
			content_by_lua_block {
				local usable = require("resty.tollgate_session").is_positive_cache_usable(tollgate_edge)
				ngx.print(usable and "usable" or "unusable")
			}
		}`;

/** Polls until `check` holds; a generous deadline, since only the outcome is asserted. */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
	const deadline = Date.now() + 60_000;
	while (!(await check())) {
		if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
		await new Promise((resolve) => setTimeout(resolve, 10));
	}
}

// Waits are for outcomes, never for a time: allow them longer than the suite's default on a busy machine.
describe.skipIf(skipReason !== null)(
	"the edge's positive cache (v1 sessions)",
	{ timeout: 90_000 },
	() => {
		let redis: PrivateRedis;
		let tollgate: TestApp;
		let upstream: Server;
		let edge: RunningEdge;

		async function createSession(groups: string[]): Promise<{ id: string; cookie: string }> {
			const response = await tollgate.app.inject({
				method: "POST",
				url: "/sessions",
				headers: { authorization: `Bearer ${APP_KEY}` },
				payload: { user_id: "ann", groups },
			});
			const body = response.json();
			return { id: body.session.id, cookie: `${COOKIE_NAME}=${body.cookie.value}` };
		}

		async function status(path: string, cookie: string): Promise<number> {
			return (await fetch(`${edge.url}${path}`, { headers: { cookie } })).status;
		}

		const isCacheUsable = async () =>
			(await (await fetch(`${edge.url}/_positive_cache`)).text()) === "usable";

		/** Takes the member out of the group in Redis directly: Tollgate publishes nothing. */
		async function removeBehindTollgatesBack(id: string, group: string): Promise<void> {
			const raw = new Redis(redis.url);
			await raw.srem(`${KEY_PREFIX}:groups:${id}`, group);
			await raw.quit();
		}

		/** A member admitted once with the cache usable, so the worker holds its "allowed". */
		async function cachedMember(group: string): Promise<{ id: string; cookie: string }> {
			await eventually(isCacheUsable, "the cache becomes usable");
			const session = await createSession([group, "other"]);
			expect(await status(`/api/groups/${group}/report`, session.cookie)).toBe(200);
			return session;
		}

		/** Tollgate on the test's Redis, heartbeating every 200 ms, listening for the edge's auth_request. */
		async function startTollgate(): Promise<string> {
			tollgate = await buildTestApp({
				kv: { url: redis.url },
				sessions: {
					format: "v1",
					secret: SECRET,
					key_prefix: KEY_PREFIX,
					app_api_keys: [APP_KEY],
					invalidation_heartbeat_ms: 200,
				},
			});
			return tollgate.app.listen({ host: "127.0.0.1", port: 0 });
		}

		beforeAll(async () => {
			redis = await PrivateRedis.start();
			const tollgateUrl = await startTollgate();
			upstream = createServer((_request, response) => {
				response.writeHead(200, { "content-type": "text/plain", "cache-control": "max-age=60" });
				response.end("report");
			});
			upstream.listen(0, "127.0.0.1");
			await once(upstream, "listening");
			edge = await startNginxEdge({
				tollgatePort: Number(new URL(tollgateUrl).port),
				appPort: (upstream.address() as AddressInfo).port,
				redisPort: redis.port,
				format: "v1",
				secret: SECRET,
				salt: "unused",
				cookieName: COOKIE_NAME,
				keyPrefix: KEY_PREFIX,
				positiveCache:
					// Heartbeats every 200 ms, trusted for 5 s: a busy CI machine delays some by a second or more.
					'{ seconds = 3600, formats = { "v1" }, heartbeat_timeout_ms = 5000, reconnect_delay_ms = 100 }',
				extraServerConfig: STATUS_LOCATION,
			});
		}, 60_000);

		afterAll(async () => {
			await edge?.stop();
			await tollgate?.close();
			upstream?.close();
			await redis?.stop();
		});

		it("answers a member from the worker's cache: a change made behind Tollgate's back is not seen", async () => {
			const member = await cachedMember("staff");
			await removeBehindTollgatesBack(member.id, "staff");
			expect(await status("/api/groups/staff/report", member.cookie)).toBe(200);
			// Refusals are never cached: the group it was never in is asked of Redis and refused.
			expect(await status("/api/groups/admins/report", member.cookie)).toBe(403);
		});

		it("refuses a destroyed session once Tollgate has published it", async () => {
			const member = await cachedMember("staff");
			await tollgate.app.inject({
				method: "DELETE",
				url: `/sessions/${member.id}`,
				headers: { authorization: `Bearer ${APP_KEY}` },
			});
			await eventually(
				async () => (await status("/api/groups/staff/report", member.cookie)) === 401,
				"the destroyed session is refused",
			);
		});

		it("refuses the old cookie of a regenerated session and admits the new one", async () => {
			const member = await cachedMember("staff");
			const regenerated = await tollgate.app.inject({
				method: "POST",
				url: `/sessions/${member.id}/regenerate`,
				headers: { authorization: `Bearer ${APP_KEY}` },
			});
			await eventually(
				async () => (await status("/api/groups/staff/report", member.cookie)) === 401,
				"the old cookie is refused",
			);
			const newCookie = `${COOKIE_NAME}=${regenerated.json().cookie.value}`;
			expect(await status("/api/groups/staff/report", newCookie)).toBe(200);
		});

		it("refuses a group the session was taken out of through Tollgate, and keeps admitting the others", async () => {
			const member = await cachedMember("staff");
			expect(await status("/api/groups/other/report", member.cookie)).toBe(200);
			await tollgate.app.inject({
				method: "PATCH",
				url: `/sessions/${member.id}`,
				headers: { authorization: `Bearer ${APP_KEY}` },
				payload: { groups: ["other"] },
			});
			await eventually(
				async () => (await status("/api/groups/staff/report", member.cookie)) === 403,
				"the removed group is refused",
			);
			expect(await status("/api/groups/other/report", member.cookie)).toBe(200);
		});

		it("drops the cache when its subscription is killed, so changes behind Tollgate's back are seen again", async () => {
			const member = await cachedMember("staff");
			await removeBehindTollgatesBack(member.id, "staff");
			const raw = new Redis(redis.url);
			await raw.call("CLIENT", "KILL", "TYPE", "pubsub");
			await raw.quit();
			await eventually(
				async () => (await status("/api/groups/staff/report", member.cookie)) === 403,
				"the edge asks Redis again",
			);
			// Resubscribed, the worker caches again.
			await cachedMember("staff");
		});

		it("answers 503 while Redis is down, cached members included, and caches again once it is back", async () => {
			const member = await cachedMember("staff");
			await redis.stop();
			await eventually(
				async () => (await status("/api/groups/staff/report", member.cookie)) === 503,
				"the cached member gets 503",
			);
			await redis.restart();
			await eventually(
				async () =>
					(await tollgate.app.inject({ method: "GET", url: "/readyz" })).statusCode === 200,
				"Tollgate reaches Redis again",
			);
			await cachedMember("staff");
		});

		it("stops trusting the cache when no Tollgate heartbeats", async () => {
			const member = await cachedMember("staff");
			await removeBehindTollgatesBack(member.id, "staff");
			await tollgate.close();
			await eventually(async () => !(await isCacheUsable()), "the cache is no longer usable");
			expect(await status("/api/groups/staff/report", member.cookie)).toBe(403);
			// The tests run in any order (shuffled in CI): the others need a heartbeating Tollgate again.
			await startTollgate();
			await eventually(isCacheUsable, "the cache is usable again");
		});
	},
);
