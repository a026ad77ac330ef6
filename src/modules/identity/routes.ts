/**
 * The account API the identity pages (and native apps) call without being signed in: set a password
 * through a one-time link and log in, each as a two-message OPAQUE exchange (the password itself never
 * reaches the server; every value is base64url as @serenity-kit/opaque writes it); ask for a sign-up or a
 * password reset by mail, confirm an e-mail change. Requests about an address answer alike whether or not
 * it has an account.
 */
import type { FastifyPluginAsyncZod, ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { errorResponses } from "../../http/openapi.ts";
import type { AccountFlows } from "./account-flows.ts";
import { type AccountService, normalisedEmail } from "./account-service.ts";
import { type AttemptLimiter, type Limit, subjectOf } from "./rate-limit.ts";

export interface AttemptLimits {
	readonly limiter: AttemptLimiter;
	readonly perAccount: Limit;
	readonly perAddress: Limit;
}

/** OPAQUE messages are a few hundred bytes; a bound keeps junk out of the library. */
export const opaqueMessage = z
	.string()
	.min(1)
	.max(2_048)
	.regex(/^[A-Za-z0-9_-]+$/, "base64url without padding");
export const emailAddress = z.string().max(320).trim().pipe(z.email());
const oneTimeToken = z
	.string()
	.min(1)
	.max(256)
	.regex(/^[A-Za-z0-9_-]+$/, "base64url");

/** The authorization a flow started from, to go back to afterwards: a path of ours, never another site. */
export function continuePath(prefix: string) {
	const start = `${prefix}/identity/interaction/`;
	return z
		.string()
		.max(300)
		.refine(
			(path) => path.startsWith(start) && /^[A-Za-z0-9_-]+$/.test(path.slice(start.length)),
			"a path of an authorization in progress",
		);
}

const mailSent = z
	.object({ status: z.literal("mail_sent") })
	.describe(
		"Accepted: a mail is on its way if there is anything to tell (the same answer either way).",
	);

export const identityRoutes: FastifyPluginAsyncZod<{
	accounts: AccountService;
	flows: AccountFlows;
	prefix: string;
	limits: AttemptLimits;
}> = async (plain, { accounts, flows, prefix, limits }) => {
	const app = plain.withTypeProvider<ZodTypeProvider>();
	const tags = ["identity"];
	const failures = errorResponses(400, 429, 503);
	/** One attempt against the account's bucket and the address's; 429 with Retry-After past either. */
	const attempt = (account: string, address: string) =>
		limits.limiter.attempt([
			{ key: `account:${subjectOf(account)}`, limit: limits.perAccount },
			{ key: `address:${address}`, limit: limits.perAddress },
		]);

	app.post(
		`${prefix}/identity/password/start`,
		{
			schema: {
				tags,
				summary:
					"Set a password, OPAQUE registration step 1: the server's response to the client's registration request.",
				description: "Authorised by the one-time token of a set-password link.",
				body: z.strictObject({ token: oneTimeToken, registration_request: opaqueMessage }),
				response: { 200: z.object({ registration_response: z.string() }), ...failures },
			},
		},
		async (request) => {
			await attempt(`link:${request.body.token}`, request.ip);
			return {
				registration_response: await accounts.startRegistration(
					request.body.token,
					request.body.registration_request,
				),
			};
		},
	);

	app.post(
		`${prefix}/identity/password/finish`,
		{
			schema: {
				tags,
				summary:
					"Set a password, OPAQUE registration step 2: store the client's registration record; the link is spent.",
				description:
					"A sign-up's link makes the account now; a reset's ends every session and grant of the account.",
				body: z.strictObject({ token: oneTimeToken, registration_record: opaqueMessage }),
				response: {
					200: z.object({
						continue_to: z
							.string()
							.nullable()
							.describe("The authorization the user was in when they asked, if any."),
					}),
					...failures,
				},
			},
		},
		async (request) => {
			const { continueTo } = await accounts.finishRegistration(
				request.body.token,
				request.body.registration_record,
			);
			return { continue_to: continueTo };
		},
	);

	app.post(
		`${prefix}/identity/signup`,
		{
			schema: {
				tags,
				summary:
					"Ask for an account: a confirmation link goes to the address (to an address with an account, a note saying so). 403 when sign-up is closed, or invite-only and no invitation is given.",
				body: z.strictObject({
					email: emailAddress,
					display_name: z.string().trim().min(1).max(120).optional(),
					invite: oneTimeToken.optional(),
					continue_to: continuePath(prefix).optional(),
				}),
				response: { 202: mailSent, ...errorResponses(400, 403, 429, 503) },
			},
		},
		async (request, reply) => {
			await attempt(`email:${normalisedEmail(request.body.email)}`, request.ip);
			await flows.requestSignup({
				email: request.body.email,
				displayName: request.body.display_name ?? null,
				invite: request.body.invite ?? null,
				continueTo: request.body.continue_to ?? null,
			});
			return reply.code(202).send({ status: "mail_sent" as const });
		},
	);

	app.post(
		`${prefix}/identity/password/reset`,
		{
			schema: {
				tags,
				summary:
					"Ask for a password reset: a one-time set-password link goes to the address if it has an account.",
				body: z.strictObject({
					email: emailAddress,
					continue_to: continuePath(prefix).optional(),
				}),
				response: { 202: mailSent, ...failures },
			},
		},
		async (request, reply) => {
			await attempt(`email:${normalisedEmail(request.body.email)}`, request.ip);
			await flows.requestReset(request.body.email, request.body.continue_to ?? null);
			return reply.code(202).send({ status: "mail_sent" as const });
		},
	);

	app.post(
		`${prefix}/identity/email/confirm`,
		{
			schema: {
				tags,
				summary:
					"Confirm an e-mail change with the link sent to the new address; the old address is told.",
				body: z.strictObject({ token: oneTimeToken }),
				response: { 200: z.object({ email: z.string() }), ...failures },
			},
		},
		async (request) => flows.confirmEmailChange(request.body.token),
	);

	app.post(
		`${prefix}/identity/login/start`,
		{
			schema: {
				tags,
				summary:
					"Log in, OPAQUE step 1: KE1 in, KE2 and a login id (valid 60 s, usable once) out. Unknown e-mails get the same answer.",
				body: z.strictObject({
					email: emailAddress,
					start_login_request: opaqueMessage,
				}),
				response: {
					200: z.object({ login_id: z.string(), login_response: z.string() }),
					...failures,
				},
			},
		},
		async (request) => {
			await attempt(`email:${normalisedEmail(request.body.email)}`, request.ip);
			const started = await accounts.startLogin(
				request.body.email,
				request.body.start_login_request,
			);
			return { login_id: started.loginId, login_response: started.loginResponse };
		},
	);

	app.post(
		`${prefix}/identity/login/finish`,
		{
			schema: {
				tags,
				summary:
					"Log in, OPAQUE step 2: KE3 in; the login id is spent whatever the outcome (invalid_grant when the proof fails).",
				body: z.strictObject({ login_id: oneTimeToken, finish_login_request: opaqueMessage }),
				response: {
					200: z.object({
						user_id: z.string(),
						amr: z.array(z.literal("pwd")),
						auth_time: z.number().int(),
					}),
					...failures,
				},
			},
		},
		async (request) => {
			const { userId, authTimeMs } = await accounts.finishLogin(
				request.body.login_id,
				request.body.finish_login_request,
			);
			return { user_id: userId, amr: ["pwd" as const], auth_time: Math.floor(authTimeMs / 1_000) };
		},
	);
};
