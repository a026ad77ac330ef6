/**
 * The authorization code flow with a hub (RFC 6749 §4.1, PKCE S256 per RFC 7636, OpenID Connect Core §3.1):
 * state, nonce and code verifier stay server-side, in a single-use key-value record, bound to the browser
 * that started the login by a random value in a short-lived cookie (a login started elsewhere cannot be
 * finished in this browser: no login CSRF). The id_token's claims are checked (iss, aud, exp, iat, nonce)
 * and, beyond OpenID Connect Core §3.1.3.7's TLS allowance, its signature against the hub's JWKS.
 *
 * Built on oauth4webapi rather than openid-client: openid-client derives the token request's redirect_uri
 * from the callback URL with its query removed, and the redirect URIs ARCmanager's hubs have registered
 * carry one (`…/auth/callback?datahub=<name>`).
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { jwtVerify } from "jose";
import * as oauth from "oauth4webapi";
import { z } from "zod";
import type { Clock } from "#lib/clock";
import type { KeyValueStore } from "../../storage/index.ts";
import type { ConnectSessions } from "./connect-sessions.ts";
import type { Hub } from "./hubs.ts";

const LOGIN_STATE_MS = 10 * 60_000;

const loginRecord = z.strictObject({
	hub: z.string(),
	code_verifier: z.string(),
	nonce: z.string(),
	binding_hash: z.string(),
});

export type LoginOutcome =
	| { readonly kind: "logged_in"; readonly cookieValue: string; readonly name: string | null }
	/** The hub or the callback refused the login: an OAuth error code and its description. */
	| { readonly kind: "refused"; readonly error: string; readonly description: string }
	| { readonly kind: "unavailable"; readonly cause: unknown };

const MISMATCHING_STATE = {
	kind: "refused",
	error: "mismatching_state",
	description: "CSRF Warning! State not equal in request and response.",
} as const;

function digest(text: string): Buffer {
	return createHash("sha256").update(text, "utf8").digest();
}

export class LoginFlow {
	readonly #kv: KeyValueStore;
	readonly #sessions: ConnectSessions;
	readonly #clock: Clock;
	readonly #redirectUriOf: (hub: Hub) => string;
	readonly #timeoutMs: number;

	constructor(options: {
		kv: KeyValueStore;
		sessions: ConnectSessions;
		clock: Clock;
		redirectUriOf: (hub: Hub) => string;
		timeoutMs: number;
	}) {
		this.#kv = options.kv;
		this.#sessions = options.sessions;
		this.#clock = options.clock;
		this.#redirectUriOf = options.redirectUriOf;
		this.#timeoutMs = options.timeoutMs;
	}

	/** A fresh browser-binding value for the login cookie. */
	static newBinding(): string {
		return randomBytes(32).toString("base64url");
	}

	/**
	 * Where to send the browser: the hub's authorization endpoint.
	 * @throws HubUnavailableError while the hub's discovery fails.
	 */
	async start(hub: Hub, binding: string): Promise<URL> {
		const { server, client } = await hub.oauth();
		const state = oauth.generateRandomState();
		const nonce = oauth.generateRandomNonce();
		const codeVerifier = oauth.generateRandomCodeVerifier();
		const record: z.input<typeof loginRecord> = {
			hub: hub.name,
			code_verifier: codeVerifier,
			nonce,
			binding_hash: digest(binding).toString("base64url"),
		};
		await this.#kv.set(`connect:login:${state}`, JSON.stringify(record), {
			ttlMs: LOGIN_STATE_MS,
		});
		if (server.authorization_endpoint === undefined)
			throw new Error(`the hub ${hub.name} publishes no authorization_endpoint`);
		const url = new URL(server.authorization_endpoint);
		url.searchParams.set("client_id", client.client_id);
		url.searchParams.set("redirect_uri", this.#redirectUriOf(hub));
		url.searchParams.set("response_type", "code");
		url.searchParams.set("scope", hub.scopes.join(" "));
		url.searchParams.set("state", state);
		url.searchParams.set("nonce", nonce);
		url.searchParams.set("code_challenge", await oauth.calculatePKCECodeChallenge(codeVerifier));
		url.searchParams.set("code_challenge_method", "S256");
		return url;
	}

	/** The hub's answer at the callback: a session, or why not. */
	async finish(hub: Hub, callback: URL, binding: string | null): Promise<LoginOutcome> {
		const state = callback.searchParams.get("state");
		if (state === null || binding === null) return MISMATCHING_STATE;
		const stored = await this.#kv.consume(`connect:login:${state}`);
		if (stored === null) return MISMATCHING_STATE;
		const record = loginRecord.parse(JSON.parse(stored));
		const isSameBrowser = timingSafeEqual(
			digest(binding),
			Buffer.from(record.binding_hash, "base64url"),
		);
		if (!isSameBrowser || record.hub !== hub.name) return MISMATCHING_STATE;
		let metadata: Awaited<ReturnType<Hub["oauth"]>>;
		let result: oauth.TokenEndpointResponse;
		try {
			metadata = await hub.oauth();
			const parameters = oauth.validateAuthResponse(
				metadata.server,
				metadata.client,
				callback,
				state,
			);
			const response = await oauth.authorizationCodeGrantRequest(
				metadata.server,
				metadata.client,
				metadata.clientAuth,
				parameters,
				this.#redirectUriOf(hub),
				record.code_verifier,
				{ signal: AbortSignal.timeout(this.#timeoutMs), ...metadata.requestOptions },
			);
			result = await oauth.processAuthorizationCodeResponse(
				metadata.server,
				metadata.client,
				response,
				{ expectedNonce: record.nonce, requireIdToken: true },
			);
		} catch (error) {
			if (
				error instanceof oauth.AuthorizationResponseError ||
				error instanceof oauth.ResponseBodyError
			)
				return {
					kind: "refused",
					error: error.error,
					description: error.error_description ?? error.message,
				};
			if (error instanceof oauth.OperationProcessingError)
				return { kind: "refused", error: "invalid_response", description: error.message };
			return { kind: "unavailable", cause: error };
		}
		const claims = oauth.getValidatedIdTokenClaims(result);
		if (claims === undefined || result.id_token === undefined)
			return { kind: "refused", error: "invalid_response", description: "no id_token" };
		try {
			await jwtVerify(result.id_token, metadata.idTokenKeys, {
				issuer: metadata.server.issuer,
				audience: metadata.client.client_id,
			});
		} catch (error) {
			return {
				kind: "refused",
				error: "invalid_token",
				description: `the id_token's signature does not verify: ${error instanceof Error ? error.message : String(error)}`,
			};
		}
		const name = typeof claims.name === "string" && claims.name !== "" ? claims.name : null;
		const nowMs = this.#clock.nowMs();
		const cookieValue = await this.#sessions.start({
			hub,
			subject: claims.sub,
			name,
			tokens: {
				accessToken: result.access_token,
				refreshToken: result.refresh_token ?? null,
				personalAccessToken: null,
			},
			accessExpiresAtMs: result.expires_in === undefined ? null : nowMs + result.expires_in * 1_000,
			nowMs,
		});
		return { kind: "logged_in", cookieValue, name };
	}
}
