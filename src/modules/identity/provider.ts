/**
 * The OpenID Connect provider: panva's oidc-provider (OpenID-certified) over Tollgate's storage, signing
 * with the sealed keys, its accounts the OPAQUE ones. Endpoints live under `<issuer>/oidc/`, discovery at
 * `<issuer>/.well-known/openid-configuration`. Its interactions (login, consent) are answered by the
 * interaction API (oidc-routes.ts).
 */
import type { Kysely } from "kysely";
import type { ClientMetadata, Configuration, KoaContextWithOIDC, Provider } from "oidc-provider";
import type { Logger } from "pino";
import type { Clock } from "#lib/clock";
import type { FoundationTables, KeyValueStore } from "../../storage/index.ts";
import type { AccountStore } from "./account-store.ts";
import { FIRST_PARTY_METADATA } from "./clients.ts";
import { type PageLook, providerPages, SESSION_COOKIE, SESSION_TTL_S } from "./provider-pages.ts";
import type { PrivateJwk } from "./signing-keys.ts";
import { KeyValueOidcAdapter } from "./storage/key-value-oidc-adapter.ts";
import { type PayloadSealer, SqlOidcAdapter } from "./storage/sql-oidc-adapter.ts";

/** The original's public-client lifetimes (specs/identity-dodeka.md §1), in seconds. */
export const TOKEN_LIFETIMES = {
	idToken: 3_300,
	accessToken: 3_600,
	refreshFamily: 30 * 86_400,
	leeway: 180,
} as const;

/** oidc-provider warns on Node 20 through console.warn at import; that is a notice for our log, not an error. */
async function importOidcProvider(logger: Logger): Promise<typeof import("oidc-provider")> {
	const { console: output } = globalThis;
	const warn = output.warn;
	output.warn = (...parts: unknown[]) => logger.info({ module: "oidc-provider" }, parts.join(" "));
	try {
		return await import("oidc-provider");
	} finally {
		output.warn = warn;
	}
}

/** What an API's access token may grant. */
const RESOURCE_SCOPE = "api";

/** Minutes-long models live in the key-value store; grants, sessions, tokens and clients in SQL. */
const SHORT_LIVED_MODELS: ReadonlySet<string> = new Set([
	"AuthorizationCode",
	"Interaction",
	"PushedAuthorizationRequest",
	"DeviceCode",
	"ReplayDetection",
	"BackchannelAuthenticationRequest",
]);

export async function createProvider(options: {
	readonly issuer: URL;
	readonly db: Kysely<FoundationTables>;
	readonly kv: KeyValueStore;
	readonly accounts: AccountStore;
	readonly jwks: readonly PrivateJwk[];
	readonly cookieKeys: readonly string[];
	readonly clock: Clock;
	readonly logger: Logger;
	readonly interactionPath: (uid: string) => string;
	readonly trustProxy: boolean;
	/** The APIs (resource indicators) tokens may be asked for. */
	readonly resources: readonly string[];
	/** Seals client records (their secrets) at rest. */
	readonly clientSealer: PayloadSealer;
	/** Clients declared in config: served from memory, never stored. */
	readonly configuredClients: readonly ClientMetadata[];
	/** How its own pages (logout, device code) look: like the identity pages. */
	readonly look: PageLook;
}): Promise<Provider> {
	const pages = providerPages(options.look);
	const { default: OidcProvider, errors } = await importOidcProvider(options.logger);
	const alreadyConsumed = () => new errors.InvalidGrant("grant request is invalid");
	const configuration: Configuration = {
		adapter: (model: string) =>
			SHORT_LIVED_MODELS.has(model)
				? new KeyValueOidcAdapter(options.kv, model, options.clock, alreadyConsumed)
				: new SqlOidcAdapter(options.db, model, options.clock, {
						alreadyConsumed,
						sealer: model === "Client" ? options.clientSealer : undefined,
					}),
		// An API's JWT access token carries the account's roles: the API checks them as whole tokens.
		async extraTokenClaims(_ctx, token) {
			if (
				token.kind !== "AccessToken" ||
				!("resourceServer" in token) ||
				token.resourceServer === undefined
			)
				return undefined;
			const user =
				token.accountId === undefined ? null : await options.accounts.findUserById(token.accountId);
			return user === null ? undefined : { roles: [...user.roles] };
		},
		async findAccount(_ctx: KoaContextWithOIDC, sub: string) {
			const user = await options.accounts.findUserById(sub);
			if (user === null || user.disabledAtMs !== null) return undefined;
			return {
				accountId: user.id,
				claims: () => ({
					sub: user.id,
					email: user.email,
					email_verified: user.emailVerified,
					name: user.displayName ?? undefined,
					roles: [...user.roles],
				}),
			};
		},
		claims: {
			openid: ["sub", "amr"],
			email: ["email", "email_verified"],
			profile: ["name"],
			roles: ["roles"],
		},
		scopes: ["openid", "offline_access", "email", "profile", "roles"],
		jwks: { keys: options.jwks.map((jwk) => ({ ...jwk })) },
		clients: options.configuredClients.map((metadata) => ({ ...metadata })),
		extraClientMetadata: {
			properties: [FIRST_PARTY_METADATA],
			validator(_ctx, key, value) {
				if (key === FIRST_PARTY_METADATA && value !== undefined && typeof value !== "boolean")
					throw new errors.InvalidClientMetadata(`${FIRST_PARTY_METADATA} must be a boolean`);
			},
		},
		cookies: { keys: [...options.cookieKeys], long: SESSION_COOKIE },
		// Errors answered where no client can take them (a bad redirect URI): JSON, as the rest of the API.
		renderError(ctx, out) {
			ctx.type = "json";
			ctx.body = out;
		},
		// OAuth 2.1: no implicit or hybrid responses.
		responseTypes: ["code", "none"],
		pkce: { required: () => true },
		rotateRefreshToken: true,
		clockTolerance: TOKEN_LIFETIMES.leeway,
		ttl: {
			IdToken: TOKEN_LIFETIMES.idToken,
			AccessToken: TOKEN_LIFETIMES.accessToken,
			AuthorizationCode: 60,
			Interaction: 600,
			Session: SESSION_TTL_S,
			Grant: TOKEN_LIFETIMES.refreshFamily,
			ClientCredentials: 600,
			DeviceCode: 600,
			// A rotated refresh token lives only as long as what is left of the family's 30 days.
			RefreshToken(_ctx, token) {
				const nowS = Math.floor(options.clock.nowMs() / 1_000);
				const familyStart = token.iiat ?? token.iat ?? nowS;
				return Math.max(familyStart + TOKEN_LIFETIMES.refreshFamily - nowS, 1);
			},
		},
		features: {
			devInteractions: { enabled: false },
			clientCredentials: { enabled: true },
			// A public client learns about its own tokens only; a confidential one (an API's back end) about any.
			introspection: {
				enabled: true,
				allowedPolicy: (ctx, client, token) =>
					client.clientAuthMethod !== "none" || token.clientId === ctx.oidc.client?.clientId,
			},
			// Only the client a token was issued to may revoke it.
			revocation: {
				enabled: true,
				allowedPolicy: (_ctx, client, token) => token.clientId === client.clientId,
			},
			userinfo: { enabled: true },
			rpInitiatedLogout: {
				enabled: true,
				logoutSource: pages.logoutSource,
				postLogoutSuccessSource: pages.postLogoutSuccessSource,
			},
			deviceFlow: {
				enabled: true,
				userCodeInputSource: pages.userCodeInputSource,
				userCodeConfirmSource: pages.userCodeConfirmSource,
				successSource: pages.deviceSuccessSource,
			},
			pushedAuthorizationRequests: { enabled: true },
			dPoP: { enabled: true },
			resourceIndicators: {
				enabled: true,
				defaultResource: (_ctx, _client, oneOf) => oneOf,
				useGrantedResource: () => true,
				getResourceServerInfo(_ctx, resourceIndicator) {
					if (!options.resources.includes(resourceIndicator)) throw new errors.InvalidTarget();
					return {
						scope: RESOURCE_SCOPE,
						audience: resourceIndicator,
						accessTokenTTL: TOKEN_LIFETIMES.accessToken,
						accessTokenFormat: "jwt",
						jwt: { sign: { alg: "RS256" } },
					};
				},
			},
		},
		enabledJWA: {
			idTokenSigningAlgValues: ["EdDSA", "ES256", "RS256"],
			userinfoSigningAlgValues: ["EdDSA", "ES256", "RS256"],
			introspectionSigningAlgValues: ["EdDSA", "ES256", "RS256"],
		},
		routes: {
			authorization: "/oidc/auth",
			token: "/oidc/token",
			userinfo: "/oidc/me",
			jwks: "/oidc/jwks",
			introspection: "/oidc/token/introspection",
			revocation: "/oidc/token/revocation",
			end_session: "/oidc/session/end",
			pushed_authorization_request: "/oidc/request",
			device_authorization: "/oidc/device/auth",
			code_verification: "/oidc/device",
		},
		interactions: { url: (_ctx, interaction) => options.interactionPath(interaction.uid) },
	};
	const provider = new OidcProvider(options.issuer.href.replace(/\/$/, ""), configuration);
	// oidc-provider checks a declared client when it is first used; a bad one should stop the start instead.
	for (const metadata of options.configuredClients) {
		try {
			await provider.Client.find(metadata.client_id);
		} catch (error) {
			throw new Error(
				`identity.clients: client ${metadata.client_id} is not valid: ${error instanceof Error ? error.message : String(error)}`,
			);
		}
	}
	provider.proxy = options.trustProxy;
	// Its faults go to our log once, with the request's context, not to stderr by Koa.
	provider.silent = true;
	provider.on("server_error", (_ctx, error) => {
		options.logger.error(
			{ err: error, module: "oidc-provider" },
			"the identity provider failed a request",
		);
	});
	return provider;
}
