/**
 * The sessions HTTP API for apps (JSON, app API key) and GET /edge/check for nginx `auth_request`
 * (204 allowed, 401 no valid session, 403 not a member, 503 store unreachable).
 */
import type { FastifyPluginAsyncZod, ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { AppError, sendError } from "#errors";
import { errorResponses } from "../../http/openapi.ts";
import type { AppApiKeyStore } from "./app-api-key.ts";
import { appApiKeyCheck } from "./check-app-api-key.ts";
import { expiredCookie, findCookie, serializeCookie } from "./cookie.ts";
import type { SessionService, SessionView } from "./session-service.ts";

export interface SessionsHttpSettings {
	readonly cookieName: string;
	readonly isCookieSecure: boolean;
	readonly ttlSeconds: number;
	readonly appApiKeys: readonly string[];
}

const MAX_DATA_JSON_BYTES = 64 * 1024;
const group = z
	.string()
	.min(1)
	.max(128)
	.regex(/^[\x21-\x7e]+$/, "printable ASCII without spaces");
const groups = z.array(group).max(256);
const data = z
	.record(z.string(), z.unknown())
	.refine(
		(value) => Buffer.byteLength(JSON.stringify(value)) <= MAX_DATA_JSON_BYTES,
		"at most 64 KiB as JSON",
	)
	.refine(
		(value) => !("user_id" in value || "groups" in value),
		"user_id and groups are set by their own fields",
	);
const userId = z.string().min(1).max(256);
const sessionId = z.string().regex(/^[A-Za-z0-9_-]{22,64}$/, "a session id");

const sessionView = z.object({
	id: z.string(),
	user_id: z.string().nullable(),
	data: z.record(z.string(), z.unknown()),
	groups: z.array(z.string()),
	expires_in_seconds: z.number(),
});
const issuedSession = z.object({
	session: sessionView,
	cookie: z.object({ name: z.string(), value: z.string(), set_cookie: z.string() }),
});
const idParams = z.object({ id: sessionId });

/**
 * The edge check's answer, shared by the Fastify route and the raw fast path: 204, or 401 (no valid session),
 * or 403 (not a member). A store failure propagates as service_unavailable (503).
 */
export async function answerEdgeCheck(
	service: SessionService,
	cookieName: string,
	cookieHeader: string | string[] | undefined,
	group: string | null,
): Promise<{ status: number; error?: AppError }> {
	const lookup = findCookie(cookieHeader, cookieName);
	const decision =
		lookup.kind === "found" ? await service.checkEdge(lookup.value, group) : "no_session";
	if (decision === "allowed") return { status: 204 };
	const error =
		decision === "not_member"
			? new AppError("forbidden", { description: "The session is not a member of this group." })
			: new AppError("unauthorized", { description: "No valid session." });
	return { status: error.status, error };
}

function sessionNotFound(): AppError {
	return new AppError("not_found", { description: "No such session (it may have expired)." });
}

function found<T>(value: T | null): T {
	if (value === null) throw sessionNotFound();
	return value;
}

export const sessionsRoutes: FastifyPluginAsyncZod<{
	service: SessionService;
	storedAppApiKeys: AppApiKeyStore;
	settings: SessionsHttpSettings;
}> = async (app, { service, storedAppApiKeys, settings }) => {
	const setCookieFor = (value: string) =>
		serializeCookie(settings.cookieName, value, {
			maxAgeSeconds: settings.ttlSeconds,
			isSecure: settings.isCookieSecure,
		});
	const issued = (session: SessionView, cookieValue: string) => ({
		session,
		cookie: {
			name: settings.cookieName,
			value: cookieValue,
			set_cookie: setCookieFor(cookieValue),
		},
	});

	await app.register(async (plain) => {
		const api = plain.withTypeProvider<ZodTypeProvider>();
		api.addHook("onRequest", appApiKeyCheck(settings.appApiKeys, storedAppApiKeys));
		const tags = ["sessions"];
		const security = [{ appApiKey: [] }];
		const failures = errorResponses(400, 401, 503);
		const failuresById = errorResponses(400, 401, 404, 503);

		api.post(
			"/sessions",
			{
				schema: {
					tags,
					security,
					summary: "Create a session; the response carries its cookie (and Set-Cookie).",
					body: z.strictObject({
						user_id: userId.nullable().default(null),
						data: data.default({}),
						groups: groups.default([]),
					}),
					response: { 201: issuedSession, ...failures },
				},
			},
			async (request, reply) => {
				const { user_id, data: content, groups: memberOf } = request.body;
				const created = await service.create({ userId: user_id, data: content, groups: memberOf });
				reply.code(201).header("set-cookie", setCookieFor(created.cookieValue));
				return issued(created.session, created.cookieValue);
			},
		);

		api.post(
			"/sessions/resolve",
			{
				schema: {
					tags,
					security,
					summary: "The live session a cookie value names (401 when missing, forged or expired).",
					body: z.strictObject({ cookie: z.string().max(4096) }),
					response: { 200: sessionView, ...failures },
				},
			},
			async (request) => {
				const session = await service.resolve(request.body.cookie);
				if (session === null)
					throw new AppError("unauthorized", { description: "No valid session." });
				return session;
			},
		);

		api.get(
			"/sessions/:id",
			{
				schema: {
					tags,
					security,
					summary: "Read a session.",
					params: idParams,
					response: { 200: sessionView, ...failuresById },
				},
			},
			async (request) => found(await service.get(request.params.id)),
		);

		api.patch(
			"/sessions/:id",
			{
				schema: {
					tags,
					security,
					summary: "Replace a session's data and/or groups (the TTL starts over).",
					params: idParams,
					body: z.strictObject({ data: data.optional(), groups: groups.optional() }),
					response: { 200: sessionView, ...failuresById },
				},
			},
			async (request) => {
				const { data: content, groups: memberOf } = request.body;
				const session = await service.update(request.params.id, {
					...(content === undefined ? {} : { data: content }),
					...(memberOf === undefined ? {} : { groups: memberOf }),
				});
				return found(session);
			},
		);

		api.post(
			"/sessions/:id/touch",
			{
				schema: {
					tags,
					security,
					summary: "Renew a session's TTL.",
					params: idParams,
					response: { 200: sessionView, ...failuresById },
				},
			},
			async (request) => found(await service.touch(request.params.id)),
		);

		api.post(
			"/sessions/:id/regenerate",
			{
				schema: {
					tags,
					security,
					summary: "New id and cookie, same content; the old cookie stops working at once.",
					params: idParams,
					response: { 200: issuedSession, ...failuresById },
				},
			},
			async (request, reply) => {
				const regenerated = found(await service.regenerate(request.params.id));
				reply.header("set-cookie", setCookieFor(regenerated.cookieValue));
				return issued(regenerated.session, regenerated.cookieValue);
			},
		);

		api.delete(
			"/sessions/:id",
			{
				schema: {
					tags,
					security,
					summary: "Destroy a session; its cookie stops working at once.",
					params: idParams,
					response: {
						204: z.null().meta({ description: "Destroyed; Set-Cookie expires the cookie." }),
						...failuresById,
					},
				},
			},
			async (request, reply) => {
				if (!(await service.destroy(request.params.id))) throw sessionNotFound();
				return reply
					.code(204)
					.header("set-cookie", expiredCookie(settings.cookieName, settings.isCookieSecure))
					.send(null);
			},
		);

		const userParams = z.object({ user_id: userId });
		api.get(
			"/users/:user_id/sessions",
			{
				schema: {
					tags,
					security,
					summary: "A user's live sessions.",
					params: userParams,
					response: { 200: z.object({ sessions: z.array(sessionView) }), ...failures },
				},
			},
			async (request) => ({ sessions: await service.listForUser(request.params.user_id) }),
		);

		api.delete(
			"/users/:user_id/sessions",
			{
				schema: {
					tags,
					security,
					summary: "Destroy every session of a user.",
					params: userParams,
					response: { 200: z.object({ destroyed: z.number() }), ...failures },
				},
			},
			async (request) => ({ destroyed: await service.destroyAllForUser(request.params.user_id) }),
		);
	});

	app.get(
		"/edge/check",
		{
			schema: {
				tags: ["edge"],
				summary:
					"For nginx auth_request: 204 allowed, 401 no valid session, 403 not a member of `group`.",
				querystring: z.object({ group: z.string().max(256).optional() }),
				response: {
					204: z.null().meta({ description: "Allowed." }),
					...errorResponses(400, 401, 403, 503),
				},
			},
		},
		async (request, reply) => {
			const answer = await answerEdgeCheck(
				service,
				settings.cookieName,
				request.headers.cookie,
				request.query.group ?? null,
			);
			return answer.error === undefined
				? reply.code(204).send(null)
				: sendError(request, reply, answer.error);
		},
	);
};
