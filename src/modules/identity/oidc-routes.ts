/**
 * Where oidc-provider answers, inside the service: discovery and everything under `<issuer path>/oidc/`
 * are handed to it untouched (it reads its own bodies), and the interaction API that finishes a login (the
 * OPAQUE exchange or a passkey) and asks for consent. Consent is remembered per account, client and scope;
 * a first-party client (the operator's own app) is never asked for it.
 */

import type { AuthenticationResponseJSON } from "@simplewebauthn/server";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { FastifyPluginAsyncZod, ZodTypeProvider } from "fastify-type-provider-zod";
import type { Provider } from "oidc-provider";
import { z } from "zod";
import { AppError } from "#errors";
import type { Clock } from "#lib/clock";
import { errorResponses } from "../../http/openapi.ts";
import { ceremonyId, webAuthnResponse } from "./account-routes.ts";
import type { AccountService } from "./account-service.ts";
import type { AccountStore } from "./account-store.ts";
import { FIRST_PARTY_METADATA } from "./clients.ts";
import type { CurrentProvider } from "./current-provider.ts";
import { type IdentityPages, sendErrorPage, sendPage, wantsPage } from "./pages.ts";
import type { Passkeys } from "./passkeys.ts";
import type { AttemptLimiter, Limit } from "./rate-limit.ts";
import { opaqueMessage } from "./routes.ts";

const uidParams = z.object({
	uid: z
		.string()
		.min(1)
		.max(128)
		.regex(/^[A-Za-z0-9_-]+$/),
});

/** What oidc-provider answers under the issuer (its `routes` in provider.ts), with CORS preflights. */
const PROVIDER_ROUTES: readonly [readonly ("GET" | "POST" | "OPTIONS")[], string, string][] = [
	[["GET", "OPTIONS"], "/.well-known/openid-configuration", "OpenID Connect discovery."],
	[
		["GET", "OPTIONS"],
		"/.well-known/oauth-authorization-server",
		"OAuth 2.0 authorization server metadata (RFC 8414).",
	],
	[
		["GET", "POST"],
		"/oidc/auth",
		"Authorization endpoint: authorization code with PKCE (S256) only.",
	],
	[["GET"], "/oidc/auth/:uid", "Where an authorization resumes after its interaction."],
	[
		["POST", "OPTIONS"],
		"/oidc/token",
		"Token endpoint: code, refresh (rotated), client credentials.",
	],
	[["GET", "POST", "OPTIONS"], "/oidc/me", "UserInfo."],
	[
		["GET", "OPTIONS"],
		"/oidc/jwks",
		"The signing keys (JWKS), retired ones included while their tokens live.",
	],
	[["POST", "OPTIONS"], "/oidc/token/introspection", "Token introspection (RFC 7662)."],
	[["POST", "OPTIONS"], "/oidc/token/revocation", "Token revocation (RFC 7009)."],
	[["GET", "POST"], "/oidc/session/end", "RP-initiated logout."],
	[["POST"], "/oidc/session/end/confirm", "Logout confirmation."],
	[["GET"], "/oidc/session/end/success", "After logout."],
	[["POST", "OPTIONS"], "/oidc/request", "Pushed authorization requests (RFC 9126)."],
	[["POST", "OPTIONS"], "/oidc/device/auth", "Device authorization (RFC 8628)."],
	[["GET", "POST"], "/oidc/device", "Where the user enters a device's code."],
	[["GET"], "/oidc/device/:uid", "Where a device authorization resumes after its interaction."],
];

/** Leaves the body unread for oidc-provider, whatever its type. */
function leaveBodiesUnread(app: FastifyInstance): void {
	app.removeAllContentTypeParsers();
	app.addContentTypeParser("*", (_request, _payload, done) => done(null));
}

export const oidcRoutes: FastifyPluginAsyncZod<{
	providers: CurrentProvider;
	accounts: AccountService;
	clock: Clock;
	store: AccountStore;
	passkeys: Passkeys;
	/** The sign-in page a browser's navigation gets; null: the JSON answer only. */
	pages: IdentityPages | null;
	prefix: string;
	/** Token requests one client address may make per window, across instances. */
	tokenLimit: { readonly limiter: AttemptLimiter; readonly perAddress: Limit };
}> = async (plain, { providers, accounts, clock, store, passkeys, pages, prefix, tokenLimit }) => {
	const tokenPath = `${prefix}/oidc/token`;
	const handOver = async (request: FastifyRequest, reply: FastifyReply) => {
		if (request.method === "POST" && request.routeOptions.url === tokenPath)
			await tokenLimit.limiter.attempt([
				{ key: `token:address:${request.ip}`, limit: tokenLimit.perAddress },
			]);
		const { callback } = await providers.current();
		reply.hijack();
		// oidc-provider routes relative to the issuer: strip the issuer's path.
		request.raw.url = (request.raw.url ?? "/").slice(prefix.length) || "/";
		callback(request.raw, reply.raw);
	};

	await plain.register(async (providerScope) => {
		leaveBodiesUnread(providerScope);
		for (const [methods, path, summary] of PROVIDER_ROUTES) {
			providerScope.route({
				method: [...methods],
				url: `${prefix}${path}`,
				schema: {
					tags: ["identity"],
					summary,
					response: {
						200: z.unknown().describe("The provider's answer (see the discovery document)."),
						...errorResponses(400, 429),
					},
				},
				handler: handOver,
			});
		}
	});

	const app = plain.withTypeProvider<ZodTypeProvider>();
	const tags = ["identity"];

	/** Finishes the interaction's login (it must need one) as the account `prove` vouches for. */
	const finishInteractionLogin = async (
		request: FastifyRequest<{ Params: { uid: string } }>,
		reply: FastifyReply,
		prove: () => Promise<{ userId: string; amr: string; authTimeMs: number }>,
	) => {
		const { provider } = await providers.current();
		const interaction = await interactionOf(provider, request, reply);
		if (interaction.prompt.name !== "login")
			throw new AppError("invalid_request", { description: "This interaction needs no login." });
		const { userId, amr, authTimeMs } = await prove();
		const redirectTo = await provider.interactionResult(request.raw, reply.raw, {
			login: { accountId: userId, amr: [amr], ts: Math.floor(authTimeMs / 1_000) },
		});
		return { redirect_to: redirectTo };
	};

	const interactionPath = (uid: string) => `${prefix}/identity/interaction/${uid}`;

	app.get(
		`${prefix}/identity/interaction/:uid`,
		{
			schema: {
				tags,
				summary:
					"An authorization in progress: what it needs, a login (where to send the OPAQUE messages or a passkey) or consent (what the client asks for). A browser's navigation gets the sign-in or consent page. Consent given before for the same scopes, or a first-party client, goes on without asking: a 303.",
				params: uidParams,
				response: {
					200: z.discriminatedUnion("prompt", [
						z.object({
							uid: z.string(),
							prompt: z.literal("login"),
							client_id: z.string(),
							login_start: z.string(),
							login_finish: z.string(),
							passkey_options: z.string(),
							passkey_finish: z.string(),
						}),
						z.object({
							uid: z.string(),
							prompt: z.literal("consent"),
							client_id: z.string(),
							client_name: z.string(),
							scopes: z.array(z.object({ scope: z.string(), description: z.string() })),
							consent: z.string(),
						}),
					]),
					...errorResponses(400, 503),
				},
			},
		},
		async (request, reply) => {
			const { provider } = await providers.current();
			const isNavigation = pages !== null && wantsPage(request.headers.accept);
			let interaction: Interaction;
			try {
				interaction = await interactionOf(provider, request, reply);
			} catch (error) {
				if (isNavigation && error instanceof AppError)
					return sendErrorPage(reply, pages, 400, "This sign-in has expired", error.message);
				throw error;
			}
			const clientId = String(interaction.params.client_id);
			const path = interactionPath(interaction.uid);
			if (interaction.prompt.name === "login") {
				if (isNavigation) return sendPage(reply, pages, "sign-in");
				return {
					uid: interaction.uid,
					prompt: "login" as const,
					client_id: clientId,
					login_start: `${prefix}/identity/login/start`,
					login_finish: `${path}/login`,
					passkey_options: `${prefix}/identity/passkey/options`,
					passkey_finish: `${path}/passkey`,
				};
			}
			const asked = consentAsked(interaction);
			const client = await provider.Client.find(clientId);
			const accountId = accountOf(interaction);
			const remembered = await store.consentedScopes(accountId, clientId);
			if (
				client?.metadata()[FIRST_PARTY_METADATA] === true ||
				asked.every((scope) => remembered.has(scope))
			) {
				const grantId = await grantEverythingAsked(provider, interaction);
				reply.hijack();
				await provider.interactionFinished(request.raw, reply.raw, { consent: { grantId } });
				return reply;
			}
			if (isNavigation) return sendPage(reply, pages, "consent");
			return {
				uid: interaction.uid,
				prompt: "consent" as const,
				client_id: clientId,
				client_name: client?.clientName ?? clientId,
				scopes: asked.map((scope) => ({ scope, description: describeScope(scope) })),
				consent: `${path}/consent`,
			};
		},
	);

	app.post(
		`${prefix}/identity/interaction/:uid/login`,
		{
			schema: {
				tags,
				summary:
					"Finish the interaction's login with the OPAQUE exchange's KE3 (login id from /identity/login/start); answers where the browser goes next.",
				params: uidParams,
				body: z.strictObject({
					login_id: z.string().min(1).max(256),
					finish_login_request: opaqueMessage,
				}),
				response: {
					200: z.object({ redirect_to: z.string() }),
					...errorResponses(400, 429, 503),
				},
			},
		},
		async (request, reply) =>
			finishInteractionLogin(request, reply, async () => ({
				...(await accounts.finishLogin(request.body.login_id, request.body.finish_login_request)),
				amr: "pwd",
			})),
	);

	app.post(
		`${prefix}/identity/interaction/:uid/passkey`,
		{
			schema: {
				tags,
				summary:
					"Finish the interaction's login with a passkey (options from /identity/passkey/options); amr hwk or swk.",
				params: uidParams,
				body: z.strictObject({ ceremony_id: ceremonyId, response: webAuthnResponse }),
				response: {
					200: z.object({ redirect_to: z.string() }),
					...errorResponses(400, 503),
				},
			},
		},
		async (request, reply) =>
			finishInteractionLogin(request, reply, async () => ({
				...(await passkeys.authenticate(
					request.body.ceremony_id,
					request.body.response as unknown as AuthenticationResponseJSON,
				)),
				authTimeMs: clock.nowMs(),
			})),
	);

	app.post(
		`${prefix}/identity/interaction/:uid/consent`,
		{
			schema: {
				tags,
				summary:
					"Answer the consent prompt: allowed, what was asked is granted and remembered for this client; refused, the client gets access_denied.",
				params: uidParams,
				body: z.strictObject({ allow: z.boolean() }),
				response: {
					200: z.object({ redirect_to: z.string() }),
					...errorResponses(400, 503),
				},
			},
		},
		async (request, reply) => {
			const { provider } = await providers.current();
			const interaction = await interactionOf(provider, request, reply);
			if (interaction.prompt.name !== "consent")
				throw new AppError("invalid_request", { description: "This interaction asks no consent." });
			if (!request.body.allow) {
				const redirectTo = await provider.interactionResult(request.raw, reply.raw, {
					error: "access_denied",
					error_description: "The user did not allow it.",
				});
				return { redirect_to: redirectTo };
			}
			const accountId = accountOf(interaction);
			const clientId = String(interaction.params.client_id);
			await store.addConsent(accountId, clientId, consentAsked(interaction), clock.nowMs());
			const grantId = await grantEverythingAsked(provider, interaction);
			const redirectTo = await provider.interactionResult(request.raw, reply.raw, {
				consent: { grantId },
			});
			return { redirect_to: redirectTo };
		},
	);
};

type Interaction = Awaited<ReturnType<Provider["interactionDetails"]>>;

/** The interaction the browser's cookie names, which must be the one in the path. */
async function interactionOf(
	provider: Provider,
	request: FastifyRequest<{ Params: { uid: string } }>,
	reply: FastifyReply,
): Promise<Interaction> {
	let interaction: Interaction;
	try {
		interaction = await provider.interactionDetails(request.raw, reply.raw);
	} catch (error) {
		throw new AppError("invalid_grant", {
			description: "The authorization request is unknown or expired: start it again.",
			cause: error,
		});
	}
	if (interaction.uid !== request.params.uid)
		throw new AppError("invalid_grant", {
			description: "This browser is in another authorization: start it again.",
		});
	return interaction;
}

function accountOf(interaction: Interaction): string {
	const accountId = interaction.session?.accountId;
	if (accountId === undefined)
		throw new AppError("invalid_request", { description: "Log in first." });
	return accountId;
}

interface MissingConsent {
	missingOIDCScope?: string[];
	missingOIDCClaims?: string[];
	missingResourceScopes?: Record<string, string[]>;
}

/** What consent the interaction asks for, as remembered: scopes, `claim:<name>`, `<scope>@<resource>`. */
function consentAsked(interaction: Interaction): string[] {
	const details = interaction.prompt.details as MissingConsent;
	return [
		...(details.missingOIDCScope ?? []),
		...(details.missingOIDCClaims ?? []).map((claim) => `claim:${claim}`),
		...Object.entries(details.missingResourceScopes ?? {}).flatMap(([resource, scopes]) =>
			scopes.map((scope) => `${scope}@${resource}`),
		),
	];
}

const SCOPE_DESCRIPTIONS: Readonly<Record<string, string>> = {
	openid: "Know it is you: an identifier for your account",
	email: "See your e-mail address",
	profile: "See your name",
	roles: "See the roles your account has",
	offline_access: "Stay connected while you are away",
};

/** What a user is asked to allow, in words. */
function describeScope(scope: string): string {
	if (scope.startsWith("claim:")) return `See your ${scope.slice("claim:".length)}`;
	const at = scope.indexOf("@");
	if (at > 0) return `Use ${scope.slice(at + 1)} as you`;
	return SCOPE_DESCRIPTIONS[scope] ?? `Access “${scope}”`;
}

/** The scopes and claims the client asked for, granted (consent given, or a first-party client). */
async function grantEverythingAsked(provider: Provider, interaction: Interaction): Promise<string> {
	const accountId = accountOf(interaction);
	const grant =
		(interaction.grantId === undefined
			? undefined
			: await provider.Grant.find(interaction.grantId)) ??
		new provider.Grant({ accountId, clientId: String(interaction.params.client_id) });
	const details = interaction.prompt.details as MissingConsent;
	if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(" "));
	if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
	for (const [indicator, scopes] of Object.entries(details.missingResourceScopes ?? {}))
		grant.addResourceScope(indicator, scopes.join(" "));
	return grant.save();
}
