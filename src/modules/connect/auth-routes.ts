/**
 * ARCmanager's auth routes (specs/arcmanager.md §3) with the tokens kept server-side: login and callback
 * (the authorization code flow with the hub), refresh, addPAT and logout, with the original's texts,
 * statuses and frontend cookies, except its defects (§0.2): a missing or bad cookie is 401 on every route,
 * a personal access token is checked at the hub before it is stored, and logout ends the session here and
 * revokes the tokens at the hub (RFC 7009) where it supports that.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import * as oauth from "oauth4webapi";
import type { Logger } from "pino";
import { z } from "zod";
import { AppError } from "#errors";
import type { Clock } from "#lib/clock";
import { contentResponse } from "../../http/openapi.ts";
import type { KeyValueStore } from "../../storage/index.ts";
import { type ConnectService, detailBody } from "./connect-service.ts";
import type { ConnectSession, ConnectSessions } from "./connect-sessions.ts";
import { cookieFrom, type FrontendCookies, LOGIN_COOKIE } from "./frontend-cookies.ts";
import { type Hub, HubUnavailableError } from "./hubs.ts";
import { LoginFlow } from "./login-flow.ts";
import type { TokenVault } from "./token-vault.ts";
import { LoginEndedError, type UpstreamClient } from "./upstream-client.ts";

const tags = ["connect"];
const hubName = z
	.string()
	.min(1)
	.max(64)
	.meta({ description: "A hub's name from [connect.hubs.<name>], e.g. tuebingen." });
const detailResponses = (...statuses: number[]) =>
	Object.fromEntries(statuses.map((status) => [status, detailBody]));
const text = (description: string) => contentResponse(description, "text/plain", z.string());
/** A redirect: an empty body, as Starlette's RedirectResponse sends. */
const redirect = (description: string) => contentResponse(description, "text/plain", z.string());
const LOGIN_WINDOW_MS = 60_000;
const REFRESH_FAILED = "Could not refresh access token! Please login again!";

function escapeHtml(value: string): string {
	return value.replace(
		/[&<>"']/g,
		(character) =>
			({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[character] ??
			character,
	);
}

export interface AuthRoutesOptions {
	readonly service: ConnectService;
	readonly sessions: ConnectSessions;
	readonly flow: LoginFlow;
	readonly vault: TokenVault;
	readonly upstream: UpstreamClient;
	readonly cookies: FrontendCookies;
	readonly kv: KeyValueStore;
	readonly clock: Clock;
	readonly logger: Logger;
	/** Where the browser lands after a login, failed or not. */
	readonly appUrl: string;
	/** Base the callback's URL is read against (the redirect URI's origin). */
	readonly publicBase: string;
	readonly loginStartsPerMinute: number;
	readonly timeoutMs: number;
}

export const authRoutes: FastifyPluginAsyncZod<AuthRoutesOptions> = async (app, options) => {
	const { service, sessions, flow, vault, upstream, cookies, kv, clock, logger } = options;
	const base = `${service.prefix}/auth`;
	app.setErrorHandler(service.answerError);
	app.addHook("onRequest", service.applyCors);

	const sendText = (reply: FastifyReply, status: number, body: string, setCookies: string[]) =>
		reply
			.code(status)
			.header("set-cookie", setCookies)
			.header("cache-control", "no-store")
			.type("text/plain; charset=utf-8")
			.send(body);

	const toApp = (reply: FastifyReply, setCookies: string[]) =>
		reply
			.code(307)
			.header("location", options.appUrl)
			.header("set-cookie", setCookies)
			.header("cache-control", "no-store")
			.send("");

	async function limitLoginStarts(request: FastifyRequest): Promise<void> {
		const count = await kv.increment(`connect:login-starts:${request.ip}`, {
			ttlMs: LOGIN_WINDOW_MS,
		});
		if (count > options.loginStartsPerMinute)
			throw new AppError("rate_limited", {
				description: "Too many logins started from this address; retry in a minute.",
				retryAfterSeconds: LOGIN_WINDOW_MS / 1_000,
			});
	}

	app.get(
		`${base}/login`,
		{
			schema: {
				tags,
				summary:
					"Start a login at a hub: 302 to its authorization endpoint (state, nonce and PKCE kept here). A hub that does not answer: 307 to the app with the `error` cookie.",
				querystring: z.object({ datahub: hubName }),
				response: {
					302: redirect("To the hub's login."),
					307: redirect('To the app, with `error="DataHUB not available"`.'),
					...detailResponses(400, 429, 503),
				},
			},
		},
		async (request, reply) => {
			const hub = service.hub(request.query.datahub);
			await limitLoginStarts(request);
			const binding = LoginFlow.newBinding();
			let target: URL;
			try {
				target = await flow.start(hub, binding);
			} catch (error) {
				if (!(error instanceof HubUnavailableError)) throw error;
				logger.warn({ hub: hub.name, err: error.cause }, "connect: a hub's discovery failed");
				return toApp(reply, cookies.hubUnavailable());
			}
			return reply
				.code(302)
				.header("location", target.href)
				.header("set-cookie", cookies.login(binding))
				.header("cache-control", "no-store")
				.send();
		},
	);

	app.get(
		`${base}/callback`,
		{
			schema: {
				tags,
				summary:
					"Where the hub sends the browser back: the code is exchanged, the id_token checked, a session made; 307 to the app with the frontend's cookies. A refused login: 200 HTML naming the OAuth error, as the original.",
				querystring: z.looseObject({
					datahub: hubName,
					code: z.string().max(2_048).optional(),
					state: z.string().max(512).optional(),
					error: z.string().max(256).optional(),
					error_description: z.string().max(2_048).optional(),
				}),
				response: {
					200: contentResponse("The login was refused.", "text/html", z.string()),
					307: redirect("To the app: logged in, or the `error` cookie."),
					...detailResponses(400, 503),
				},
			},
		},
		async (request, reply) => {
			const hub = service.hub(request.query.datahub);
			const outcome = await flow.finish(
				hub,
				new URL(request.url, options.publicBase),
				cookieFrom(request.headers.cookie, LOGIN_COOKIE),
			);
			switch (outcome.kind) {
				case "logged_in":
					return toApp(reply, cookies.loggedIn(outcome.cookieValue, outcome.name, clock.nowMs()));
				case "unavailable":
					logger.warn({ hub: hub.name, err: outcome.cause }, "connect: a login could not finish");
					return toApp(reply, cookies.hubUnavailable());
				case "refused":
					logger.info({ hub: hub.name, error: outcome.error }, "connect: a login was refused");
					return reply
						.code(200)
						.header("cache-control", "no-store")
						.header("content-security-policy", "default-src 'none'")
						.type("text/html; charset=utf-8")
						.send(`<h1>${escapeHtml(`${outcome.error}: ${outcome.description}`)}</h1>`);
			}
		},
	);

	app.get(
		`${base}/refresh`,
		{
			preHandler: service.refuseCrossSite,
			schema: {
				tags,
				summary:
					"Refresh the session's upstream tokens now (at most one refresh per session across the cluster); sets a new `timer`.",
				response: {
					200: text("Session refresh was successful!"),
					401: detailBody,
					403: detailBody,
					504: detailBody,
				},
			},
		},
		async (request, reply) => {
			const { session, cookieValue } = await service.requireSession(request);
			try {
				await upstream.refreshNow(session);
			} catch (error) {
				if (!(error instanceof LoginEndedError)) throw error;
				return reply
					.code(401)
					.header("set-cookie", cookies.loggedOut())
					.send({ detail: REFRESH_FAILED, error: error.code, request_id: request.id });
			}
			await sessions.touch(session.id);
			return sendText(
				reply,
				200,
				"Session refresh was successful!",
				cookies.refreshed(cookieValue, clock.nowMs()),
			);
		},
	);

	async function checkPersonalAccessToken(
		session: ConnectSession,
		hub: Hub,
		pat: string,
	): Promise<void> {
		const answer = await upstream.send(
			hub,
			{ method: "GET", path: "/api/v4/user", headers: { accept: "application/json" } },
			pat,
		);
		const body = await answer.body.text();
		if (answer.status === 401 || answer.status === 403)
			throw new AppError("invalid_request", {
				description: "The DataHUB did not accept this personal access token.",
			});
		if (answer.status !== 200)
			throw new AppError("upstream_error", {
				cause: `GET /api/v4/user answered ${answer.status}`,
			});
		const user = z.object({ id: z.union([z.number(), z.string()]) }).safeParse(JSON.parse(body));
		if (!user.success)
			throw new AppError("upstream_error", { cause: "GET /api/v4/user gave no user id" });
		if (String(user.data.id) !== session.subject)
			throw new AppError("forbidden", {
				description: "This personal access token belongs to another DataHUB user.",
			});
	}

	app.put(
		`${base}/addPAT`,
		{
			preHandler: service.refuseCrossSite,
			schema: {
				tags,
				summary:
					"Use a GitLab personal access token instead of the OAuth token (checked at the hub's /api/v4/user: it must be the logged-in user's).",
				body: z.object({
					pat: z
						.string()
						.min(1)
						.max(512)
						.regex(/^[\x21-\x7e]+$/, "printable characters without spaces"),
				}),
				response: {
					200: text("Your Personal Access token was added successfully!"),
					...detailResponses(400, 401, 403, 502, 504),
				},
			},
		},
		async (request, reply) => {
			const { session, cookieValue } = await service.requireSession(request);
			if (session.hub.kind !== "gitlab")
				throw new AppError("invalid_request", {
					description: "This DataHUB takes no personal access tokens.",
				});
			await checkPersonalAccessToken(session, session.hub, request.body.pat);
			for (;;) {
				const opened = await vault.open(session.id);
				if (opened === null) throw new LoginEndedError("the grant vanished while adding a PAT");
				const tokens = { ...opened.tokens, personalAccessToken: request.body.pat };
				if (await vault.replace(opened, tokens, opened.grant.accessExpiresAtMs)) break;
			}
			return sendText(
				reply,
				200,
				"Your Personal Access token was added successfully!",
				cookies.patAdded(cookieValue),
			);
		},
	);

	async function revokeAtHub(session: ConnectSession): Promise<void> {
		const opened = await vault.open(session.id);
		if (opened === null) return;
		try {
			const metadata = await session.hub.oauth();
			if (metadata.server.revocation_endpoint === undefined) return;
			const tokens: [string, string][] = [["access_token", opened.tokens.accessToken]];
			if (opened.tokens.refreshToken !== null)
				tokens.unshift(["refresh_token", opened.tokens.refreshToken]);
			for (const [hint, token] of tokens) {
				const response = await oauth.revocationRequest(
					metadata.server,
					metadata.client,
					metadata.clientAuth,
					token,
					{
						additionalParameters: { token_type_hint: hint },
						signal: AbortSignal.timeout(options.timeoutMs),
						...metadata.requestOptions,
					},
				);
				await oauth.processRevocationResponse(response);
			}
		} catch (error) {
			// The login ends here whatever the hub says; its tokens then expire there by themselves.
			logger.warn({ hub: session.hub.name, err: error }, "connect: revoking at the hub failed");
		}
	}

	app.get(
		`${base}/logout`,
		{
			preHandler: service.refuseCrossSite,
			schema: {
				tags,
				summary:
					"End the session: its tokens revoked at the hub (RFC 7009, where supported) and deleted here; the frontend's cookies cleared. Also without a session.",
				response: { 200: text("logout successful"), ...detailResponses(403) },
			},
		},
		async (request, reply) => {
			const signedIn = await service.requireSession(request).catch((error: unknown) => {
				if (error instanceof AppError && error.code === "unauthorized") return null;
				throw error;
			});
			if (signedIn !== null) {
				await revokeAtHub(signedIn.session);
				await sessions.end(signedIn.session.id);
			}
			return sendText(reply, 200, "logout successful", cookies.loggedOut());
		},
	);
};
