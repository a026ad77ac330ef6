/**
 * The sessions module started: the sessions API for apps (its keys configured or stored in SQL),
 * GET /edge/check (a raw route: nginx asks it on every request it guards), and the session store — Redis
 * in the layout the edge reads when `kv.url` is set, else over the embedded key-value store.
 */
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { ModuleImplementation } from "../contract.ts";
import type { SessionsConfig } from "./config.ts";
import { type CookieCodec, rememberVerified, restyCodec, v1Codec } from "./edge-contract.ts";
import { answerEdgeCheck, sessionsRoutes } from "./routes.ts";
import { resolveSessionsSecret } from "./secret.ts";
import { SessionService } from "./session-service.ts";
import { KeyValueSessionStore } from "./storage/key-value-session-store.ts";
import { RedisSessionStore } from "./storage/redis-session-store.ts";
import { SqlAppApiKeyStore } from "./storage/sql-app-api-key-store.ts";

/** The original's defaults in resty format; Tollgate's own in v1. */
export function sessionDefaults(section: SessionsConfig): {
	keyPrefix: string;
	cookieName: string;
} {
	const isResty = section.format === "resty";
	return {
		keyPrefix: section.key_prefix ?? (isResty ? "resty_shared_session" : "tollgate_session"),
		cookieName: section.cookie_name ?? (isResty ? "session" : "tollgate_session"),
	};
}

const VERIFIED_COOKIES_REMEMBERED = 10_000;

export function cookieCodecFor(section: SessionsConfig, secret: string): CookieCodec {
	const codec = section.format === "resty" ? restyCodec(secret, section.salt) : v1Codec(secret);
	return rememberVerified(codec, VERIFIED_COOKIES_REMEMBERED);
}

/**
 * Every instance heartbeats on its own: edges then trust their caches while any Tollgate can reach Redis.
 * A failed publish needs no log of its own: the store's outage is reported by /readyz and the requests.
 */
function publishHeartbeats(
	app: FastifyInstance,
	store: RedisSessionStore,
	section: SessionsConfig,
): void {
	const beat = () => {
		store.publishHeartbeat().catch(() => {});
	};
	const timer = setInterval(beat, section.invalidation_heartbeat_ms);
	timer.unref();
	app.addHook("onReady", async () => beat());
	app.addHook("onClose", async () => clearInterval(timer));
}

export const implementation: ModuleImplementation<SessionsConfig> = {
	async register({ section, config, app, rawRoutes, storage, clock }) {
		const { keyPrefix, cookieName } = sessionDefaults(section);
		// Unprefixed keys of its own connection: nginx and Flask apps read them by these names.
		const store =
			storage.redisUrl === undefined
				? new KeyValueSessionStore(storage.kv, keyPrefix)
				: await RedisSessionStore.open(
						storage.redisUrl,
						keyPrefix,
						section.invalidation_channel ?? `${keyPrefix}:invalidations`,
					);
		if (store instanceof RedisSessionStore) publishHeartbeats(app, store, section);
		app.addHook("onClose", () => store.close());
		const secret = await resolveSessionsSecret(section, config.dev, storage.secrets, clock.nowMs());
		const service = new SessionService(cookieCodecFor(section, secret), store, section.ttl_seconds);
		const storedAppApiKeys = new SqlAppApiKeyStore(storage.sql.db);
		if (section.app_api_keys.length === 0 && (await storedAppApiKeys.count()) === 0) {
			app.log.warn(
				"no app API keys (sessions.app_api_keys is empty, none stored): the sessions API refuses every call until `tollgate sessions keys add` makes one (the edge check works)",
			);
		}
		rawRoutes.add("GET", "/edge/check", (request, { query }) =>
			answerEdgeCheck(service, cookieName, request.headers.cookie, query.get("group")),
		);
		await app.withTypeProvider<ZodTypeProvider>().register(sessionsRoutes, {
			service,
			storedAppApiKeys,
			settings: {
				cookieName,
				isCookieSecure: section.cookie_secure,
				ttlSeconds: section.ttl_seconds,
				appApiKeys: section.app_api_keys,
			},
		});
		return { sessions: service };
	},
};
