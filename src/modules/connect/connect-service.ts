/**
 * What connect gives the routes below its prefix, its own and the arcs module's: the session a request's
 * `data` cookie names, the CORS and CSRF checks, calls to the hubs on the user's behalf, and the error
 * answer the ARCmanager frontend reads (`{"detail": …}`; it shows `statusText + ", " + detail`).
 */
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import {
	AppError,
	ERROR_CATALOGUE,
	isClientAborted,
	logClientAborted,
	logFailure,
	toAppError,
} from "#errors";
import type { ConnectSession, ConnectSessions } from "./connect-sessions.ts";
import { cookieFrom, DATA_COOKIE, type FrontendCookies } from "./frontend-cookies.ts";
import type { Hub, Hubs } from "./hubs.ts";
import type { RequestOrigins } from "./request-origin.ts";
import {
	LoginEndedError,
	type UpstreamAnswer,
	type UpstreamCall,
	type UpstreamClient,
} from "./upstream-client.ts";

/** §4.1: what the original said for a hub that did not answer. */
const HUB_DOWN_DETAIL = "DataHUB currently not available!!";
/** §4.1: the original's prefix for request validation failures (kept: the frontend shows it). */
const VALIDATION_PREFIX = "Try clearing your browser data and cookies! ERROR: ";

/** Tollgate's own error body below the prefix. */
export const detailBody = z
	.object({ detail: z.string(), error: z.string(), request_id: z.string() })
	.meta({ description: "What went wrong, as the ARCmanager frontend shows it (`detail`)." });

export interface SignedInRequest {
	readonly session: ConnectSession;
	/** The `data` cookie as the browser sent it (set again by refresh and addPAT, as the original did). */
	readonly cookieValue: string;
}

export class ConnectService {
	readonly prefix: string;
	/** The error body of every route below the prefix, for their OpenAPI descriptions. */
	readonly detailBody = detailBody;
	readonly #sessions: ConnectSessions;
	readonly #hubs: Hubs;
	readonly #origins: RequestOrigins;
	readonly #upstream: UpstreamClient;
	readonly #cookies: FrontendCookies;

	constructor(options: {
		prefix: string;
		sessions: ConnectSessions;
		hubs: Hubs;
		origins: RequestOrigins;
		upstream: UpstreamClient;
		cookies: FrontendCookies;
	}) {
		this.prefix = options.prefix;
		this.#sessions = options.sessions;
		this.#hubs = options.hubs;
		this.#origins = options.origins;
		this.#upstream = options.upstream;
		this.#cookies = options.cookies;
	}

	/** The names of the configured hubs. */
	hubNames(): string[] {
		return this.#hubs.names();
	}

	/** A configured hub by name. @throws AppError invalid_request (400) for an unknown one. */
	hub(name: string): Hub {
		const hub = this.#hubs.get(name);
		if (hub === undefined)
			throw new AppError("invalid_request", {
				description: `Unknown DataHUB "${name}"; this server knows: ${this.#hubs.names().join(", ") || "none"}.`,
			});
		return hub;
	}

	/**
	 * The connect session of the request's `data` cookie.
	 * @throws AppError unauthorized (401) when it is missing, unknown or expired.
	 */
	async requireSession(request: FastifyRequest): Promise<SignedInRequest> {
		const cookieValue = cookieFrom(request.headers.cookie, DATA_COOKIE);
		const session = cookieValue === null ? null : await this.#sessions.resolve(cookieValue);
		if (cookieValue === null || session === null)
			throw new AppError("unauthorized", { description: "You are not logged in" });
		return { session, cookieValue };
	}

	/** onRequest hook: CORS headers for the configured origins. */
	readonly applyCors = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
		this.#origins.applyCors(request, reply);
	};

	/** preHandler hook of a state-changing route. @throws AppError forbidden (403) cross-site. */
	readonly refuseCrossSite = async (request: FastifyRequest): Promise<void> => {
		if (!this.#origins.isSameSiteOrAllowed(request))
			throw new AppError("forbidden", {
				description: "This request comes from a page of another site.",
			});
	};

	/** A call to the hub as the session's user (see UpstreamClient.call). */
	call(session: ConnectSession, call: UpstreamCall): Promise<UpstreamAnswer> {
		return this.#upstream.call(session, call);
	}

	/** A call without a user's credential (public listings). */
	callAnonymously(hub: Hub, call: UpstreamCall): Promise<UpstreamAnswer> {
		return this.#upstream.send(hub, call, null);
	}

	/** The error handler of every route below the prefix. */
	readonly answerError = (
		error: FastifyError,
		request: FastifyRequest,
		reply: FastifyReply,
	): FastifyReply => {
		if (isClientAborted(request.raw)) {
			logClientAborted(request.log);
			return reply.code(400).send();
		}
		const appError = toAppError(error);
		logFailure(request.log, appError);
		if (appError.retryAfterSeconds !== undefined)
			reply.header("retry-after", String(appError.retryAfterSeconds));
		if (error.validation !== undefined)
			return reply.code(422).send({
				status_code: 422,
				detail: `${VALIDATION_PREFIX}${appError.message}`,
				error: appError.code,
				request_id: request.id,
			});
		// The browser forgets a login the hub has ended, so the frontend shows it logged out.
		if (error instanceof LoginEndedError) reply.header("set-cookie", this.#cookies.loggedOut());
		// An upstream failure described where it happened (which service, what it said) is told as such;
		// other server errors keep the catalogue's text, never an internal message.
		const isUpstream =
			appError.code === "upstream_unavailable" || appError.code === "upstream_error";
		const isDescribed = appError.message !== ERROR_CATALOGUE[appError.code].message;
		const detail =
			appError.expose || (isUpstream && isDescribed)
				? appError.message
				: appError.code === "upstream_unavailable"
					? HUB_DOWN_DETAIL
					: ERROR_CATALOGUE[appError.code].message;
		return reply
			.code(appError.status)
			.send({ detail, error: appError.code, request_id: request.id });
	};
}
