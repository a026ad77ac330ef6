/**
 * The account API the identity pages (and native apps) call: set a password through a one-time link, and
 * log in, each as a two-message OPAQUE exchange. The password itself never reaches the server; every value
 * is base64url as @serenity-kit/opaque writes it.
 */
import type { FastifyPluginAsyncZod, ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { errorResponses } from "../../http/openapi.ts";
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
const oneTimeToken = z
	.string()
	.min(1)
	.max(256)
	.regex(/^[A-Za-z0-9_-]+$/, "base64url");

export const identityRoutes: FastifyPluginAsyncZod<{
	accounts: AccountService;
	prefix: string;
	limits: AttemptLimits;
}> = async (plain, { accounts, prefix, limits }) => {
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
				body: z.strictObject({ token: oneTimeToken, registration_record: opaqueMessage }),
				response: { 204: z.null().describe("The password is set."), ...failures },
			},
		},
		async (request, reply) => {
			await accounts.finishRegistration(request.body.token, request.body.registration_record);
			return reply.code(204).send(null);
		},
	);

	app.post(
		`${prefix}/identity/login/start`,
		{
			schema: {
				tags,
				summary:
					"Log in, OPAQUE step 1: KE1 in, KE2 and a login id (valid 60 s, usable once) out. Unknown e-mails get the same answer.",
				body: z.strictObject({
					email: z.string().max(320).trim().pipe(z.email()),
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
