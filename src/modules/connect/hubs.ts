/**
 * The configured hubs: each with its OAuth client, its discovered metadata (OpenID Connect Discovery 1.0,
 * fetched on first use and kept an hour, so a hub that is down at start-up harms only its own logins, never
 * /readyz), the keys its id_tokens are signed with, and one keep-alive connection pool to its API.
 */
import { createRemoteJWKSet, type JWTVerifyGetKey } from "jose";
import * as oauth from "oauth4webapi";
import { Pool } from "undici";
import type { Clock } from "#lib/clock";
import type { ConnectConfig, HubConfig } from "./config.ts";

const METADATA_KEPT_MS = 60 * 60_000;
/** After a failed discovery, the hub is asked again no sooner than this (a login storm stays one request). */
const FAILED_DISCOVERY_QUIET_MS = 5_000;
const POOL_CONNECTIONS = 64;

export interface HubOAuth {
	readonly server: oauth.AuthorizationServer;
	readonly client: oauth.Client;
	readonly clientAuth: oauth.ClientAuth;
	readonly idTokenKeys: JWTVerifyGetKey;
	/** Options every request to the hub's OAuth endpoints takes (plain http only when configured). */
	readonly requestOptions: { readonly [oauth.allowInsecureRequests]?: boolean };
}

export class HubUnavailableError extends Error {
	constructor(hubName: string, cause: unknown) {
		super(`the hub ${hubName} did not answer its discovery request`, { cause });
		this.name = "HubUnavailableError";
	}
}

export class Hub {
	readonly name: string;
	readonly displayName: string;
	readonly kind: HubConfig["kind"];
	readonly scopes: readonly string[];
	/** The API's origin and the path its /api/v4 lives below (no trailing slash). */
	readonly apiOrigin: string;
	readonly apiBasePath: string;
	readonly pool: Pool;
	readonly #config: HubConfig;
	readonly #allowHttp: boolean;
	readonly #clock: Clock;
	readonly #timeoutMs: number;
	#discovered: { oauth: HubOAuth; atMs: number } | null = null;
	#pending: Promise<HubOAuth> | null = null;
	#failedAtMs = Number.NEGATIVE_INFINITY;

	constructor(
		name: string,
		config: HubConfig,
		options: { allowHttp: boolean; clock: Clock; timeoutMs: number },
	) {
		this.name = name;
		this.#config = config;
		this.displayName = config.display_name ?? name;
		this.kind = config.kind;
		this.scopes = config.scopes;
		this.#allowHttp = options.allowHttp;
		this.#clock = options.clock;
		this.#timeoutMs = options.timeoutMs;
		const api = new URL(config.api_url ?? config.issuer);
		this.apiOrigin = api.origin;
		this.apiBasePath = api.pathname.replace(/\/+$/, "");
		this.pool = new Pool(api.origin, {
			connections: POOL_CONNECTIONS,
			headersTimeout: options.timeoutMs,
			bodyTimeout: options.timeoutMs,
			connectTimeout: Math.min(options.timeoutMs, 10_000),
		});
	}

	/** The hub's OAuth metadata and client; throws HubUnavailableError while discovery fails. */
	async oauth(): Promise<HubOAuth> {
		const nowMs = this.#clock.nowMs();
		const discovered = this.#discovered;
		if (discovered !== null && nowMs - discovered.atMs < METADATA_KEPT_MS) return discovered.oauth;
		if (this.#pending !== null) return this.#pending;
		if (discovered === null && nowMs - this.#failedAtMs < FAILED_DISCOVERY_QUIET_MS)
			throw new HubUnavailableError(this.name, "discovery failed moments ago");
		this.#pending = this.#discover()
			.then((found) => {
				this.#discovered = { oauth: found, atMs: this.#clock.nowMs() };
				return found;
			})
			.catch((error: unknown) => {
				this.#failedAtMs = this.#clock.nowMs();
				// Metadata an hour old beats no login at all while the hub's discovery is down.
				if (discovered !== null) return discovered.oauth;
				throw new HubUnavailableError(this.name, error);
			})
			.finally(() => {
				this.#pending = null;
			});
		return this.#pending;
	}

	async #discover(): Promise<HubOAuth> {
		const issuer = new URL(this.#config.issuer);
		const requestOptions = this.#allowHttp ? { [oauth.allowInsecureRequests]: true } : {};
		const response = await oauth.discoveryRequest(issuer, {
			algorithm: "oidc",
			signal: AbortSignal.timeout(this.#timeoutMs),
			...requestOptions,
		});
		const server = await oauth.processDiscoveryResponse(issuer, response);
		if (server.jwks_uri === undefined)
			throw new Error(`the hub ${this.name} publishes no jwks_uri`);
		return {
			server,
			client: { client_id: this.#config.client_id },
			clientAuth: oauth.ClientSecretPost(this.#config.client_secret),
			idTokenKeys: createRemoteJWKSet(new URL(server.jwks_uri), {
				timeoutDuration: this.#timeoutMs,
			}),
			requestOptions,
		};
	}
}

export class Hubs {
	readonly #hubs: ReadonlyMap<string, Hub>;

	constructor(section: ConnectConfig, clock: Clock) {
		this.#hubs = new Map(
			Object.entries(section.hubs).map(([name, config]) => [
				name,
				new Hub(name, config, {
					allowHttp: section.allow_http_hubs,
					clock,
					timeoutMs: section.upstream_timeout_ms,
				}),
			]),
		);
	}

	get(name: string): Hub | undefined {
		return this.#hubs.get(name);
	}

	names(): string[] {
		return [...this.#hubs.keys()];
	}

	async close(): Promise<void> {
		await Promise.all([...this.#hubs.values()].map((hub) => hub.pool.close()));
	}
}
