/**
 * A few GET routes answered on node:http before Fastify sees the request: hot paths whose whole job is one
 * lookup, such as /edge/check, which nginx asks on every request it guards. Fastify's per-request work
 * (child logger, hooks, serialisation) costs more than that lookup (bench/ edge-auth-request). These routes
 * still send the request id and the security headers, answer errors with the one error body, and count in
 * /metrics. Each keeps a Fastify twin for OpenAPI and inject()-based tests, and both call one decision function.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { AppError, ERROR_CATALOGUE, type ErrorBody } from "#errors";
import { generateRequestId } from "./plugins/request-id.ts";
import { REQUEST_ID_HEADER, SECURITY_HEADERS } from "./plugins/response-headers.ts";

export interface RawReply {
	readonly status: number;
	/** An error to answer with; none for 2xx. */
	readonly error?: AppError;
}

export type RawRouteHandler = (
	request: IncomingMessage,
	query: URLSearchParams,
) => Promise<RawReply>;

export type ResponseObserver = (
	method: string,
	route: string,
	statusCode: number,
	seconds: number,
) => void;

export class RawRoutes {
	readonly #handlers = new Map<string, RawRouteHandler>();
	readonly #logger: Logger;
	#observe: ResponseObserver = () => {};
	#isClosing = false;

	constructor(logger: Logger) {
		this.#logger = logger;
	}

	add(path: string, handler: RawRouteHandler): void {
		this.#handlers.set(path, handler);
	}

	observeWith(observer: ResponseObserver): void {
		this.#observe = observer;
	}

	/** From now on every response asks the client to close its connection, so shutdown need not wait for it. */
	markClosing(): void {
		this.#isClosing = true;
	}

	/** Answers the request and returns true when a raw route owns it; false leaves it to Fastify. */
	dispatch(request: IncomingMessage, response: ServerResponse): boolean {
		if (request.method !== "GET" || request.url === undefined) return false;
		const queryStart = request.url.indexOf("?");
		const path = queryStart === -1 ? request.url : request.url.slice(0, queryStart);
		const handler = this.#handlers.get(path);
		if (handler === undefined) return false;
		const startedAt = process.hrtime.bigint();
		const requestId = generateRequestId(request);
		const query = new URLSearchParams(queryStart === -1 ? "" : request.url.slice(queryStart + 1));
		handler(request, query)
			.catch((error: unknown): RawReply => {
				const appError =
					error instanceof AppError ? error : new AppError("internal_error", { cause: error });
				if (appError.status >= 500) {
					this.#logger.error(
						{ err: appError.cause ?? appError, request_id: requestId, route: path },
						"request failed",
					);
				}
				return { status: appError.status, error: appError };
			})
			.then((reply) => {
				this.#send(response, requestId, reply);
				this.#observe("GET", path, reply.status, Number(process.hrtime.bigint() - startedAt) / 1e9);
			});
		return true;
	}

	#send(response: ServerResponse, requestId: string, reply: RawReply): void {
		const headers: Record<string, string> = { ...SECURITY_HEADERS, [REQUEST_ID_HEADER]: requestId };
		if (this.#isClosing) headers.connection = "close";
		if (reply.error === undefined) {
			response.writeHead(reply.status, headers).end();
			return;
		}
		const body: ErrorBody = {
			error: reply.error.code,
			error_description: reply.error.expose
				? reply.error.message
				: ERROR_CATALOGUE[reply.error.code].message,
			request_id: requestId,
		};
		const text = JSON.stringify(body);
		response
			.writeHead(reply.status, {
				...headers,
				"content-type": "application/json; charset=utf-8",
				"content-length": String(Buffer.byteLength(text)),
			})
			.end(text);
	}
}
