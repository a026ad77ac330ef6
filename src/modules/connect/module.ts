/**
 * The connect module started: the hubs, the token vault (and the leased purge of rows whose session has
 * ended), the single-flight refresher, the upstream client, the auth routes, the pass-through and the CORS
 * preflight for everything below the prefix; its service is what the arcs module builds on.
 */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { Logger } from "pino";
import { z } from "zod";
import type { FoundationConfig } from "#config";
import type { ServiceKeys } from "../../keys/service-keys.ts";
import type { SqlDatabase } from "../../storage/index.ts";
import type { ModuleImplementation } from "../contract.ts";
import { authRoutes } from "./auth-routes.ts";
import type { ConnectConfig } from "./config.ts";
import { ConnectService, detailBody } from "./connect-service.ts";
import { ConnectSessions } from "./connect-sessions.ts";
import { FrontendCookies } from "./frontend-cookies.ts";
import { GrantRefresher } from "./grant-refresher.ts";
import { Hubs } from "./hubs.ts";
import { LoginFlow } from "./login-flow.ts";
import { parseProxyRule } from "./proxy-path.ts";
import { proxyRoutes } from "./proxy-routes.ts";
import { RequestOrigins } from "./request-origin.ts";
import { SqlGrantStore } from "./storage/sql-grant-store.ts";
import { resolveVaultKeys, TokenVault } from "./token-vault.ts";
import { registerUpstreamMetrics, UpstreamClient } from "./upstream-client.ts";

const PURGE_INTERVAL_MS = 15 * 60_000;
const PURGE_BATCH = 500;

/** `connect.public_url`, else the address the service listens on; no trailing slash. */
export function publicBaseOf(section: ConnectConfig, config: FoundationConfig): string {
	return (section.public_url ?? `http://${config.http.host}:${config.http.port}`).replace(
		/\/+$/,
		"",
	);
}

export function openVault(options: {
	readonly section: ConnectConfig;
	readonly config: FoundationConfig;
	readonly sql: SqlDatabase;
	readonly serviceKeys: ServiceKeys;
	readonly logger: Logger;
}): TokenVault {
	const keys = resolveVaultKeys({
		configured: options.section.token_keys,
		isDev: options.config.dev,
		serviceKeys: options.serviceKeys,
		warn: (message) => options.logger.warn(message),
	});
	return new TokenVault(new SqlGrantStore(options.sql.db), keys);
}

/** Deletes the vault rows whose session the sessions module no longer holds (expired, destroyed). */
export async function purgeOrphanedGrants(
	vault: TokenVault,
	sessions: ConnectSessions,
	signal: AbortSignal,
): Promise<number> {
	let purged = 0;
	for await (const grant of vault.all(PURGE_BATCH)) {
		if (signal.aborted) break;
		if (!(await sessions.exists(grant.sessionId)) && (await vault.delete(grant.sessionId)))
			purged += 1;
	}
	return purged;
}

function appUrlOf(section: ConnectConfig, publicBase: string): string {
	return new URL(section.app_url, `${publicBase}/`).href;
}

export const implementation: ModuleImplementation<ConnectConfig> = {
	async register({
		section,
		config,
		app,
		storage,
		keys,
		clock,
		logger,
		registry,
		registerJob,
		services,
	}) {
		const sessionService = services.sessions;
		if (sessionService === undefined)
			throw new Error("connect needs the sessions module: set sessions.enabled = true");
		const publicBase = publicBaseOf(section, config);
		const hubs = new Hubs(section, clock);
		app.addHook("onClose", () => hubs.close());
		const vault = openVault({ section, config, sql: storage.sql, serviceKeys: keys, logger });
		const sessions = new ConnectSessions(sessionService, vault, hubs);
		const metrics = registerUpstreamMetrics(registry);
		const refresher = new GrantRefresher({
			kv: storage.kv,
			vault,
			clock,
			logger,
			timeoutMs: section.upstream_timeout_ms,
			onRefreshed: (hub) => metrics.refreshes.inc({ hub }),
		});
		const upstream = new UpstreamClient({
			vault,
			sessions,
			refresher,
			clock,
			logger,
			metrics,
			retries: section.upstream_retries,
			retryAfterMaxSeconds: section.retry_after_max_seconds,
			refreshBeforeExpirySeconds: section.refresh_before_expiry_seconds,
			timeoutMs: section.upstream_timeout_ms,
		});
		const cookies = new FrontendCookies({
			dataPath: section.cookie_path,
			loginPath: `${section.prefix}/auth`,
			isSecure: section.cookie_secure,
		});
		const origins = new RequestOrigins(
			section.cors_origins,
			section.public_url === undefined ? null : new URL(section.public_url).origin,
		);
		const service = new ConnectService({
			prefix: section.prefix,
			sessions,
			hubs,
			origins,
			upstream,
			cookies,
		});
		const flow = new LoginFlow({
			kv: storage.kv,
			sessions,
			clock,
			redirectUriOf: (hub) =>
				`${publicBase}${section.prefix}/auth/callback?datahub=${encodeURIComponent(hub.name)}`,
			timeoutMs: section.upstream_timeout_ms,
		});
		registerJob({
			name: "connect.purge",
			intervalMs: PURGE_INTERVAL_MS,
			run: async ({ signal }) => {
				const purged = await purgeOrphanedGrants(vault, sessions, signal);
				if (purged > 0) logger.info({ purged }, "connect: tokens of ended sessions deleted");
			},
		});
		await app.register(authRoutes, {
			service,
			sessions,
			flow,
			vault,
			upstream,
			cookies,
			kv: storage.kv,
			clock,
			logger,
			appUrl: appUrlOf(section, publicBase),
			publicBase,
			loginStartsPerMinute: section.login_starts_per_minute,
			timeoutMs: section.upstream_timeout_ms,
		});
		await app.register(proxyRoutes, {
			service,
			rules: section.proxy_allow.map(parseProxyRule),
			publicBase,
		});
		await app.register(preflightRoutes, { service, origins });
		return { connect: service };
	},
};

const preflightRoutes: FastifyPluginAsyncZod<{
	service: ConnectService;
	origins: RequestOrigins;
}> = async (app, { service, origins }) => {
	app.setErrorHandler(service.answerError);
	app.options(
		`${service.prefix}/*`,
		{
			schema: {
				tags: ["connect"],
				summary:
					"CORS preflight for every route below the prefix (connect.cors_origins may call with credentials).",
				response: {
					204: z.null().meta({ description: "Allowed, or (no CORS headers) not." }),
					400: detailBody,
				},
			},
		},
		async (request, reply) => {
			origins.preflight(request, reply);
			return reply.code(204).send(null);
		},
	);
};
