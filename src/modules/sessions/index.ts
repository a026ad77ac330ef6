/**
 * Server-side sessions an nginx edge can check by itself (signature + group membership), wire-compatible
 * with flask-resty-shared-session in "resty" format. Spec: specs/resty-shared-session.md, docs/edge-contract.md.
 */
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { Config } from "#config";
import type { RawRoutes } from "../../http/raw-routes.ts";
import { type CookieCodec, rememberVerified, restyCodec, v1Codec } from "./edge-contract.ts";
import { answerEdgeCheck, sessionsRoutes } from "./routes.ts";
import { SessionService } from "./session-service.ts";
import type { SessionStore } from "./session-store.ts";

export {
	type CookieCodec,
	rememberVerified,
	restyCodec,
	restySignature,
	type SessionFormat,
	sessionKeys,
	userSessionsKey,
	v1Codec,
	v1SessionId,
} from "./edge-contract.ts";
export type { EdgeDecision, SessionView } from "./session-service.ts";
export { SessionService } from "./session-service.ts";
export type { EdgeCheck, SessionStore, SessionWrite, StoredSession } from "./session-store.ts";

type SessionsConfig = Config["sessions"];

/** Public, so never a secret: used only when `dev = true`. */
export const DEV_SESSIONS_SECRET = "tollgate-dev-sessions-secret";
export const STORED_SECRET_NAME = "sessions_v1_secret";

/** The original's defaults in resty format; Tollgate's own in v1. */
export function sessionDefaults(config: SessionsConfig): { keyPrefix: string; cookieName: string } {
	const isResty = config.format === "resty";
	return {
		keyPrefix: config.key_prefix ?? (isResty ? "resty_shared_session" : "tollgate_session"),
		cookieName: config.cookie_name ?? (isResty ? "session" : "tollgate_session"),
	};
}

const VERIFIED_COOKIES_REMEMBERED = 10_000;

export function cookieCodecFor(config: SessionsConfig, secret: string): CookieCodec {
	const codec = config.format === "resty" ? restyCodec(secret, config.salt) : v1Codec(secret);
	return rememberVerified(codec, VERIFIED_COOKIES_REMEMBERED);
}

export interface SessionsModuleOptions {
	readonly config: SessionsConfig;
	readonly store: SessionStore;
	/** Resolved by the caller: `sessions.secret`, the dev secret, or the stored one (v1). */
	readonly secret: string;
	/** Where the hot /edge/check path is answered without Fastify. */
	readonly rawRoutes: RawRoutes;
}

/**
 * Registers the sessions API and /edge/check.
 * @throws nothing at registration; routes answer `unauthorized`, `forbidden`, `not_found`, `invalid_request`,
 * `service_unavailable` (store unreachable).
 */
export async function registerSessions(
	app: FastifyInstance,
	options: SessionsModuleOptions,
): Promise<void> {
	const { config, store, secret, rawRoutes } = options;
	const service = new SessionService(cookieCodecFor(config, secret), store, config.ttl_seconds);
	if (config.app_api_keys.length === 0) {
		app.log.warn(
			"sessions.app_api_keys is empty: the sessions API refuses every call (the edge check works)",
		);
	}
	const { cookieName } = sessionDefaults(config);
	rawRoutes.add("GET", "/edge/check", (request, { query }) =>
		answerEdgeCheck(service, cookieName, request.headers.cookie, query.get("group")),
	);
	await app.withTypeProvider<ZodTypeProvider>().register(sessionsRoutes, {
		service,
		settings: {
			cookieName,
			isCookieSecure: config.cookie_secure,
			ttlSeconds: config.ttl_seconds,
			appApiKeys: config.app_api_keys,
		},
	});
}
