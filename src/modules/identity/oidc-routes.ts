/**
 * Where oidc-provider answers, inside the service: discovery and everything under `<issuer path>/oidc/`
 * are handed to it untouched (it reads its own bodies), and the interaction API that finishes a login with
 * the OPAQUE exchange. Consent is implied for registered clients: they are the operator's own.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { FastifyPluginAsyncZod, ZodTypeProvider } from "fastify-type-provider-zod";
import type { Provider } from "oidc-provider";
import { z } from "zod";
import { AppError } from "#errors";
import { errorResponses } from "../../http/openapi.ts";
import type { AccountService } from "./account-service.ts";
import { type IdentityPages, sendPage, wantsPage } from "./pages.ts";
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
	provider: Provider;
	accounts: AccountService;
	/** The sign-in page a browser's navigation gets; null: the JSON answer only. */
	pages: IdentityPages | null;
	prefix: string;
	/** Token requests one client address may make per window, across instances. */
	tokenLimit: { readonly limiter: AttemptLimiter; readonly perAddress: Limit };
}> = async (plain, { provider, accounts, pages, prefix, tokenLimit }) => {
	const callback = provider.callback();
	const tokenPath = `${prefix}/oidc/token`;
	const handOver = async (request: FastifyRequest, reply: FastifyReply) => {
		if (request.method === "POST" && request.routeOptions.url === tokenPath)
			await tokenLimit.limiter.attempt([
				{ key: `token:address:${request.ip}`, limit: tokenLimit.perAddress },
			]);
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

	app.get(
		`${prefix}/identity/interaction/:uid`,
		{
			schema: {
				tags,
				summary:
					"An authorization in progress: what it needs (a login: where to send the OPAQUE messages; a browser's navigation gets the sign-in page). Consent for a registered client is given without asking, answered with a 303.",
				params: uidParams,
				response: {
					200: z.object({
						uid: z.string(),
						prompt: z.literal("login"),
						client_id: z.string(),
						login_start: z.string(),
						login_finish: z.string(),
					}),
					...errorResponses(400, 503),
				},
			},
		},
		async (request, reply) => {
			const interaction = await interactionOf(provider, request, reply);
			if (interaction.prompt.name === "login") {
				if (pages !== null && wantsPage(request.headers.accept))
					return sendPage(reply, pages, "sign-in");
				return {
					uid: interaction.uid,
					prompt: "login" as const,
					client_id: String(interaction.params.client_id),
					login_start: `${prefix}/identity/login/start`,
					login_finish: `${prefix}/identity/interaction/${interaction.uid}/login`,
				};
			}
			const grantId = await grantEverythingAsked(provider, interaction);
			reply.hijack();
			await provider.interactionFinished(request.raw, reply.raw, { consent: { grantId } });
			return reply;
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
		async (request, reply) => {
			const interaction = await interactionOf(provider, request, reply);
			if (interaction.prompt.name !== "login")
				throw new AppError("invalid_request", { description: "This interaction needs no login." });
			const { userId, authTimeMs } = await accounts.finishLogin(
				request.body.login_id,
				request.body.finish_login_request,
			);
			const redirectTo = await provider.interactionResult(request.raw, reply.raw, {
				login: { accountId: userId, amr: ["pwd"], ts: Math.floor(authTimeMs / 1_000) },
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

/** The scopes and claims the client asked for, granted (it is a client the operator registered). */
async function grantEverythingAsked(provider: Provider, interaction: Interaction): Promise<string> {
	const accountId = interaction.session?.accountId;
	if (accountId === undefined)
		throw new AppError("invalid_request", { description: "Log in first." });
	const grant =
		(interaction.grantId === undefined
			? undefined
			: await provider.Grant.find(interaction.grantId)) ??
		new provider.Grant({ accountId, clientId: String(interaction.params.client_id) });
	const details = interaction.prompt.details as {
		missingOIDCScope?: string[];
		missingOIDCClaims?: string[];
		missingResourceScopes?: Record<string, string[]>;
	};
	if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(" "));
	if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
	for (const [indicator, scopes] of Object.entries(details.missingResourceScopes ?? {}))
		grant.addResourceScope(indicator, scopes.join(" "));
	return grant.save();
}
