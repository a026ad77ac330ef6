/**
 * The account page's API: sign in to it (OPAQUE or a passkey), see the account with its passkeys,
 * signed-in browsers and grants, end those, change the password or e-mail, add or remove passkeys, delete
 * the account. The session is an HttpOnly SameSite=Strict cookie (Secure when the issuer is https); a
 * request from another origin is refused. What can lock a user out or lose their data needs a sign-in
 * from the last five minutes (step-up, 401 step_up_required).
 */
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from "@simplewebauthn/server";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { FastifyPluginAsyncZod, ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { AppError } from "#errors";
import type { Clock } from "#lib/clock";
import { errorResponses } from "../../http/openapi.ts";
import type { AccountFlows } from "./account-flows.ts";
import type { AccountService } from "./account-service.ts";
import { ACCOUNT_COOKIE, type AccountSession, type AccountSessions } from "./account-sessions.ts";
import type { AccountStore } from "./account-store.ts";
import { type IdentityPages, sendPage, wantsPage } from "./pages.ts";
import { amrOf, type Passkeys } from "./passkeys.ts";
import { emailAddress, opaqueMessage } from "./routes.ts";

const SESSION_COOKIE_MAX_AGE_S = 3_600;
const idParams = z.object({
	id: z
		.string()
		.min(1)
		.max(512)
		.regex(/^[A-Za-z0-9_-]+$/),
});
/** A WebAuthn response as @simplewebauthn/browser hands it over; the library checks its contents. */
export const webAuthnResponse = z.looseObject({
	id: z.string().min(1).max(1_024),
	rawId: z.string().min(1).max(1_024),
	type: z.literal("public-key"),
	response: z.looseObject({ clientDataJSON: z.string().max(8_192) }),
	clientExtensionResults: z.looseObject({}),
});
export const ceremonyId = z
	.string()
	.min(1)
	.max(64)
	.regex(/^[A-Za-z0-9_-]+$/);

function cookieOf(header: string | undefined, name: string): string | null {
	for (const part of header?.split(";") ?? []) {
		const [key, value] = part.trim().split("=", 2);
		if (key === name && value !== undefined && value !== "") return value;
	}
	return null;
}

const signedIn = z.object({
	user_id: z.string(),
	amr: z.array(z.string()),
	auth_time: z.number().int(),
});

const accountView = z.object({
	user_id: z.string(),
	email: z.string(),
	email_verified: z.boolean(),
	display_name: z.string().nullable(),
	created_at: z.number().int(),
	auth_time: z.number().int().describe("When this session last proved who it is."),
	step_up_fresh: z
		.boolean()
		.describe("Whether that was recent enough for a password or e-mail change, or deletion."),
	passkeys: z.array(
		z.object({
			id: z.string(),
			name: z.string(),
			kind: z.enum(["hwk", "swk"]),
			created_at: z.number().int(),
			last_used_at: z.number().int().nullable(),
		}),
	),
	sessions: z.array(
		z.object({
			id: z.string(),
			signed_in_at: z.number().int().nullable(),
			expires_at: z.number().int().nullable(),
			client_ids: z.array(z.string()),
		}),
	),
	grants: z.array(
		z.object({
			id: z.string(),
			client_id: z.string(),
			scopes: z.array(z.string()),
			granted_at: z.number().int().nullable(),
			expires_at: z.number().int().nullable(),
		}),
	),
});

export const accountRoutes: FastifyPluginAsyncZod<{
	readonly accounts: AccountService;
	readonly flows: AccountFlows;
	readonly sessions: AccountSessions;
	readonly passkeys: Passkeys;
	readonly store: AccountStore;
	readonly pages: IdentityPages | null;
	readonly prefix: string;
	readonly issuer: URL;
	readonly clock: Clock;
}> = async (plain, options) => {
	const { accounts, flows, sessions, passkeys, store, pages, prefix, clock } = options;
	const app = plain.withTypeProvider<ZodTypeProvider>();
	const tags = ["identity"];
	const base = `${prefix}/identity/account`;
	const cookiePath = `${prefix}/identity`;
	const secure = options.issuer.protocol === "https:" ? "; Secure" : "";
	const setCookie = (reply: FastifyReply, token: string, maxAgeS: number) =>
		reply.header(
			"set-cookie",
			`${ACCOUNT_COOKIE}=${token}; Path=${cookiePath}; Max-Age=${maxAgeS}; HttpOnly; SameSite=Strict${secure}`,
		);

	// Cookies ride along with cross-site requests in older browsers: a state change must come from our pages.
	app.addHook("preHandler", async (request) => {
		if (request.method !== "POST" || !request.url.startsWith(base)) return;
		const origin = request.headers.origin;
		if (origin !== undefined && origin !== options.issuer.origin)
			throw new AppError("forbidden", { description: "Requests from other sites are refused." });
	});

	const currentSession = async (
		request: FastifyRequest,
	): Promise<{ token: string; session: AccountSession } | null> => {
		const token = cookieOf(request.headers.cookie, ACCOUNT_COOKIE);
		if (token === null) return null;
		const session = await sessions.find(token);
		return session === null ? null : { token, session };
	};
	/** The signed-in session, of an account that still exists and is enabled (deleted elsewhere: signed out). */
	const requireSession = async (request: FastifyRequest) => {
		const current = await currentSession(request);
		if (current !== null && !(await store.isActive(current.session.userId))) {
			await sessions.end(current.token);
			throw new AppError("unauthorized", { description: "This account is gone or disabled." });
		}
		if (current === null)
			throw new AppError("unauthorized", { description: "Sign in to your account first." });
		return current;
	};
	const requireFresh = async (request: FastifyRequest) => {
		const current = await requireSession(request);
		if (!sessions.isFresh(current.session))
			throw new AppError("step_up_required", {
				description: "Confirm it is you: sign in again with your password or a passkey.",
			});
		return current;
	};
	/** A sign-in: a new session, or (the same account's) a fresh proof for the current one. */
	const signIn = async (
		request: FastifyRequest,
		reply: FastifyReply,
		userId: string,
		amr: readonly string[],
	) => {
		const current = await currentSession(request);
		if (current !== null && current.session.userId === userId)
			await sessions.reauthenticated(current.token, userId, amr);
		else setCookie(reply, await sessions.start(userId, amr), SESSION_COOKIE_MAX_AGE_S);
		return { user_id: userId, amr: [...amr], auth_time: Math.floor(clock.nowMs() / 1_000) };
	};
	const failures = errorResponses(400, 401, 403, 429, 503);

	app.get(
		base,
		{
			schema: {
				tags,
				summary:
					"The signed-in account with its passkeys, signed-in browsers and grants; a browser's navigation gets the account page (or the sign-in page).",
				response: { 200: accountView, ...errorResponses(401, 503) },
			},
		},
		async (request, reply) => {
			if (pages !== null && wantsPage(request.headers.accept)) {
				const current = await currentSession(request);
				return sendPage(reply, pages, current === null ? "sign-in" : "account");
			}
			const { session } = await requireSession(request);
			const user = await store.findUserById(session.userId);
			if (user === null || user.disabledAtMs !== null)
				throw new AppError("unauthorized", { description: "Sign in to your account first." });
			const authorizations = await store.listAuthorizations(user.id, clock.nowMs());
			const seconds = (ms: number) => Math.floor(ms / 1_000);
			return {
				user_id: user.id,
				email: user.email,
				email_verified: user.emailVerified,
				display_name: user.displayName,
				created_at: seconds(user.createdAtMs),
				auth_time: seconds(session.authTimeMs),
				step_up_fresh: sessions.isFresh(session),
				passkeys: (await store.listPasskeys(user.id)).map((passkey) => ({
					id: passkey.id,
					name: passkey.name,
					kind: amrOf(passkey),
					created_at: seconds(passkey.createdAtMs),
					last_used_at: passkey.lastUsedAtMs === null ? null : seconds(passkey.lastUsedAtMs),
				})),
				sessions: authorizations.sessions.map((each) => ({
					id: each.id,
					signed_in_at: each.signedInAtS,
					expires_at: each.expiresAtS,
					client_ids: [...each.clientIds],
				})),
				grants: authorizations.grants.map((each) => ({
					id: each.id,
					client_id: each.clientId,
					scopes: [...each.scopes],
					granted_at: each.grantedAtS,
					expires_at: each.expiresAtS,
				})),
			};
		},
	);

	app.post(
		`${base}/login`,
		{
			schema: {
				tags,
				summary:
					"Sign in to the account page with the OPAQUE exchange's KE3 (login id from /identity/login/start); signed in already, a fresh proof (step-up).",
				body: z.strictObject({
					login_id: z.string().min(1).max(256),
					finish_login_request: opaqueMessage,
				}),
				response: { 200: signedIn, ...failures },
			},
		},
		async (request, reply) => {
			const { userId } = await accounts.finishLogin(
				request.body.login_id,
				request.body.finish_login_request,
			);
			return signIn(request, reply, userId, ["pwd"]);
		},
	);

	app.post(
		`${base}/passkey-login`,
		{
			schema: {
				tags,
				summary:
					"Sign in to the account page with a passkey (options from /identity/passkey/options); signed in already, a fresh proof (step-up).",
				body: z.strictObject({ ceremony_id: ceremonyId, response: webAuthnResponse }),
				response: { 200: signedIn, ...failures },
			},
		},
		async (request, reply) => {
			const { userId, amr } = await passkeys.authenticate(
				request.body.ceremony_id,
				request.body.response as unknown as AuthenticationResponseJSON,
			);
			return signIn(request, reply, userId, [amr]);
		},
	);

	app.post(
		`${base}/logout`,
		{
			schema: {
				tags,
				summary: "Sign out of the account page.",
				response: { 204: z.null().describe("Signed out."), ...failures },
			},
		},
		async (request, reply) => {
			const current = await currentSession(request);
			if (current !== null) await sessions.end(current.token);
			setCookie(reply, "", 0);
			return reply.code(204).send(null);
		},
	);

	app.post(
		`${base}/password/start`,
		{
			schema: {
				tags,
				summary:
					"Change the password, OPAQUE registration step 1 (needs a sign-in from the last five minutes).",
				body: z.strictObject({ registration_request: opaqueMessage }),
				response: { 200: z.object({ registration_response: z.string() }), ...failures },
			},
		},
		async (request) => {
			const { session } = await requireFresh(request);
			return {
				registration_response: accounts.registrationResponse(
					session.userId,
					request.body.registration_request,
				),
			};
		},
	);

	app.post(
		`${base}/password/finish`,
		{
			schema: {
				tags,
				summary:
					"Change the password, OPAQUE registration step 2: the new record replaces the old.",
				body: z.strictObject({ registration_record: opaqueMessage }),
				response: { 204: z.null().describe("The password is changed."), ...failures },
			},
		},
		async (request, reply) => {
			const { session } = await requireFresh(request);
			await accounts.setPassword(session.userId, request.body.registration_record);
			return reply.code(204).send(null);
		},
	);

	app.post(
		`${base}/email`,
		{
			schema: {
				tags,
				summary:
					"Change the e-mail address: a confirmation link goes to the new address; nothing changes until it is followed.",
				body: z.strictObject({ new_email: emailAddress }),
				response: {
					202: z
						.object({ status: z.literal("mail_sent") })
						.describe("The confirmation is on its way."),
					...failures,
				},
			},
		},
		async (request, reply) => {
			const { session } = await requireFresh(request);
			await flows.requestEmailChange(session.userId, request.body.new_email);
			return reply.code(202).send({ status: "mail_sent" as const });
		},
	);

	app.post(
		`${base}/delete`,
		{
			schema: {
				tags,
				summary:
					"Delete the account: its personal data, passkeys and consents, every session and grant (needs a sign-in from the last five minutes).",
				response: { 204: z.null().describe("The account is gone."), ...failures },
			},
		},
		async (request, reply) => {
			const { token, session } = await requireFresh(request);
			await accounts.deleteUser(session.userId);
			await sessions.end(token);
			setCookie(reply, "", 0);
			return reply.code(204).send(null);
		},
	);

	app.post(
		`${base}/sessions/:id/end`,
		{
			schema: {
				tags,
				summary: "Sign one of your browsers out of the provider.",
				params: idParams,
				response: { 204: z.null().describe("Signed out."), ...errorResponses(401, 403, 404, 503) },
			},
		},
		async (request, reply) => {
			const { session } = await requireSession(request);
			if (!(await store.endSession(session.userId, request.params.id)))
				throw new AppError("not_found", { description: "No such session of yours." });
			return reply.code(204).send(null);
		},
	);

	app.post(
		`${base}/grants/:id/revoke`,
		{
			schema: {
				tags,
				summary: "Take an app's access away: the grant and every token issued under it.",
				params: idParams,
				response: { 204: z.null().describe("Revoked."), ...errorResponses(401, 403, 404, 503) },
			},
		},
		async (request, reply) => {
			const { session } = await requireSession(request);
			if (!(await store.revokeGrant(session.userId, request.params.id)))
				throw new AppError("not_found", { description: "No such grant of yours." });
			return reply.code(204).send(null);
		},
	);

	app.post(
		`${base}/passkeys/options`,
		{
			schema: {
				tags,
				summary:
					"Begin adding a passkey: WebAuthn creation options (needs a sign-in from the last five minutes).",
				response: {
					200: z.object({
						ceremony_id: z.string(),
						options: z
							.unknown()
							.describe("WebAuthn options, as @simplewebauthn/browser takes them."),
					}),
					...failures,
				},
			},
		},
		async (request) => {
			const { session } = await requireFresh(request);
			const user = await store.findUserById(session.userId);
			if (user === null) throw new AppError("unauthorized", { description: "Sign in again." });
			const begun = await passkeys.registrationOptions(user);
			return { ceremony_id: begun.ceremonyId, options: begun.options };
		},
	);

	app.post(
		`${base}/passkeys`,
		{
			schema: {
				tags,
				summary: "Finish adding a passkey with the authenticator's response.",
				body: z.strictObject({
					ceremony_id: ceremonyId,
					response: webAuthnResponse,
					name: z.string().trim().min(1).max(80).default("Passkey"),
				}),
				response: { 201: z.object({ id: z.string(), kind: z.enum(["hwk", "swk"]) }), ...failures },
			},
		},
		async (request, reply) => {
			const { session } = await requireFresh(request);
			const added = await passkeys.register(
				session.userId,
				request.body.ceremony_id,
				request.body.response as unknown as RegistrationResponseJSON,
				request.body.name,
			);
			return reply.code(201).send({ id: added.id, kind: amrOf(added) });
		},
	);

	app.post(
		`${base}/passkeys/:id/remove`,
		{
			schema: {
				tags,
				summary: "Remove a passkey (needs a sign-in from the last five minutes).",
				params: idParams,
				response: { 204: z.null().describe("Removed."), ...errorResponses(401, 403, 404, 503) },
			},
		},
		async (request, reply) => {
			const { session } = await requireFresh(request);
			if (!(await store.removePasskey(session.userId, request.params.id)))
				throw new AppError("not_found", { description: "No such passkey of yours." });
			return reply.code(204).send(null);
		},
	);

	app.post(
		`${prefix}/identity/passkey/options`,
		{
			schema: {
				tags,
				summary:
					"Begin a passkey sign-in: WebAuthn request options for any registered passkey; for a step-up on the account page, for the account's own.",
				body: z.strictObject({ step_up: z.boolean().default(false) }),
				response: {
					200: z.object({
						ceremony_id: z.string(),
						options: z
							.unknown()
							.describe("WebAuthn options, as @simplewebauthn/browser takes them."),
					}),
					...errorResponses(400, 401, 503),
				},
			},
		},
		async (request) => {
			const userId = request.body.step_up ? (await requireSession(request)).session.userId : null;
			const begun = await passkeys.authenticationOptions(userId);
			return { ceremony_id: begun.ceremonyId, options: begun.options };
		},
	);
};
