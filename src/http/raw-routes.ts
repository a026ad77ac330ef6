/**
 * A few routes answered on node:http before Fastify sees the request: hot paths whose own work is small
 * next to Fastify's per-request work (child logger, hooks, serialisation), such as /edge/check, which nginx
 * asks on every request it guards (bench/ edge-auth-request), the Session Pro calls every client makes
 * (bench/ entitlements-proof) and the file server's downloads and uploads (bench/ files). These routes still
 * send the request id and the security headers, answer errors with the one error body (or the route's own
 * protocol's), keep the body limit, count in /metrics and write the access line. Each keeps a Fastify twin
 * for OpenAPI, inject()-based callers (onion requests) and tests, and both call one decision function.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { pipeline, type Readable } from "node:stream";
import type { Logger } from "pino";
import {
	AppError,
	errorBody,
	isClientAborted,
	logClientAborted,
	logFailure,
	toAppError,
} from "#errors";
import { accessLoggerOf } from "./logger.ts";
import { generateRequestId } from "./plugins/request-id.ts";
import { REQUEST_ID_HEADER, SECURITY_HEADERS } from "./plugins/response-headers.ts";

export type RawBody =
	| { readonly contentType: string; readonly bytes: Buffer }
	| { readonly contentType: string; readonly stream: Readable; readonly lengthBytes: number };

export interface RawReply {
	readonly status: number;
	/** An error to answer with (in the route's error shape); none for a success. */
	readonly error?: AppError;
	/** The route's own headers (Expires, Content-Range…); the content headers come from `body`. */
	readonly headers?: Readonly<Record<string, string>>;
	readonly body?: RawBody;
}

export interface RawRequestContext {
	readonly query: URLSearchParams;
	/** The path's `:name` segments, decoded. */
	readonly params: Readonly<Record<string, string>>;
	/** The whole request body (POST), within the body limit; empty for GET and for streamed bodies. */
	readonly body: Buffer;
	/** The id the response carries, for log lines about this request. */
	readonly requestId: string;
}

export type RawRouteHandler = (
	request: IncomingMessage,
	context: RawRequestContext,
) => Promise<RawReply>;

export interface RawRouteOptions {
	/** POST: the handler reads the body itself, as a stream (uploads); it enforces its own limit. */
	readonly streamsBody?: boolean;
	/** The route's error body when it is not Tollgate's (a Session protocol's own shape). */
	readonly renderError?: (error: AppError) => RawReply;
}

type RawMethod = "GET" | "POST";

interface Route {
	readonly method: RawMethod;
	/** The pattern as Fastify writes it: the metrics label and the access line's route. */
	readonly pattern: string;
	readonly segments: readonly string[];
	readonly handler: RawRouteHandler;
	readonly options: RawRouteOptions;
}

const NO_BODY = Buffer.alloc(0);
const NO_PARAMS: Readonly<Record<string, string>> = Object.freeze({});

export type ResponseObserver = (
	method: string,
	route: string,
	statusCode: number,
	seconds: number,
) => void;

/** The route's `:name` values when `path` fits its segments; null when it does not (or cannot be decoded). */
function matchSegments(
	segments: readonly string[],
	path: string,
): Readonly<Record<string, string>> | null {
	const parts = path.split("/");
	if (parts.length !== segments.length) return null;
	const params: Record<string, string> = {};
	for (const [index, segment] of segments.entries()) {
		const part = parts[index] ?? "";
		if (segment.startsWith(":")) {
			if (part === "") return null;
			try {
				params[segment.slice(1)] = decodeURIComponent(part);
			} catch {
				return null;
			}
		} else if (segment !== part) return null;
	}
	return params;
}

class RequestContext implements RawRequestContext {
	readonly params: Readonly<Record<string, string>>;
	readonly requestId: string;
	body: Buffer = NO_BODY;
	readonly #search: string;
	#query: URLSearchParams | undefined;

	constructor(search: string, params: Readonly<Record<string, string>>, requestId: string) {
		this.#search = search;
		this.params = params;
		this.requestId = requestId;
	}

	/** Parsed only for the routes that read it. */
	get query(): URLSearchParams {
		this.#query ??= new URLSearchParams(this.#search);
		return this.#query;
	}
}

export class RawRoutes {
	/** Routes without parameters, by `METHOD path`: one lookup for the commonest case. */
	readonly #exact = new Map<string, Route>();
	readonly #patterned: Route[] = [];
	readonly #logger: Logger;
	readonly #accessLogger: Logger;
	readonly #bodyLimitBytes: number;
	readonly #isUrlLogged: boolean;
	#observe: ResponseObserver = () => {};
	#isClosing = false;

	constructor(
		logger: Logger,
		options: { readonly bodyLimitBytes: number; readonly isUrlLogged: boolean },
	) {
		this.#logger = logger;
		this.#accessLogger = accessLoggerOf(logger);
		this.#bodyLimitBytes = options.bodyLimitBytes;
		this.#isUrlLogged = options.isUrlLogged;
	}

	/** Adds a route; `path` may have `:name` segments, as Fastify's do. */
	add(
		method: RawMethod,
		path: string,
		handler: RawRouteHandler,
		options: RawRouteOptions = {},
	): void {
		const segments = path.split("/");
		const route = { method, pattern: path, segments, handler, options };
		if (segments.some((segment) => segment.startsWith(":"))) this.#patterned.push(route);
		else this.#exact.set(`${method} ${path}`, route);
	}

	observeWith(observer: ResponseObserver): void {
		this.#observe = observer;
	}

	/** From now on every response asks the client to close its connection, so shutdown need not wait for it. */
	markClosing(): void {
		this.#isClosing = true;
	}

	#find(method: RawMethod, path: string) {
		const exact = this.#exact.get(`${method} ${path}`);
		if (exact !== undefined) return { route: exact, params: NO_PARAMS };
		for (const route of this.#patterned) {
			if (route.method !== method) continue;
			const params = matchSegments(route.segments, path);
			if (params !== null) return { route, params };
		}
		return undefined;
	}

	/** Answers the request and returns true when a raw route owns it; false leaves it to Fastify. */
	dispatch(request: IncomingMessage, response: ServerResponse): boolean {
		const { method, url } = request;
		if ((method !== "GET" && method !== "POST") || url === undefined) return false;
		const queryStart = url.indexOf("?");
		const path = queryStart === -1 ? url : url.slice(0, queryStart);
		const found = this.#find(method, path);
		if (found === undefined) return false;
		const { route, params } = found;
		const startedAt = process.hrtime.bigint();
		const requestId = generateRequestId(request);
		const context = new RequestContext(
			queryStart === -1 ? "" : url.slice(queryStart + 1),
			params,
			requestId,
		);
		const answered =
			method === "POST" && route.options.streamsBody !== true
				? this.#readBody(request).then((body) => {
						context.body = body;
						return route.handler(request, context);
					})
				: route.handler(request, context);
		void answered
			.catch((error: unknown): RawReply => {
				const appError = toAppError(error);
				const fields = { request_id: requestId, route: route.pattern };
				if (isClientAborted(request)) logClientAborted(this.#logger, fields);
				else logFailure(this.#logger, appError, fields);
				return (
					route.options.renderError?.(appError) ?? { status: appError.status, error: appError }
				);
			})
			.then((reply) => {
				// A client that went away has nobody left to answer; an opened blob is closed, not left to GC.
				if (response.destroyed) {
					if (reply.body !== undefined && "stream" in reply.body) reply.body.stream.destroy();
					return;
				}
				const isStreamed = this.#send(response, requestId, reply);
				const done = () => {
					const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
					this.#observe(method, route.pattern, reply.status, seconds);
					this.#accessLogger.info(
						{
							request_id: requestId,
							method,
							route: route.pattern,
							status_code: reply.status,
							duration_ms: Math.round(seconds * 1e6) / 1_000,
							...(this.#isUrlLogged ? { url, ip: request.socket.remoteAddress } : {}),
						},
						"request",
					);
				};
				// A streamed body is done when the response closes; anything else when it is handed over.
				if (isStreamed) response.once("close", done);
				else done();
			});
		return true;
	}

	/** The body, or payload_too_large as soon as the declared or received length passes the limit. */
	#readBody(request: IncomingMessage): Promise<Buffer> {
		const limit = this.#bodyLimitBytes;
		if (Number(request.headers["content-length"] ?? 0) > limit)
			return Promise.reject(new AppError("payload_too_large"));
		return new Promise((resolve, reject) => {
			const chunks: Buffer[] = [];
			let receivedBytes = 0;
			request.on("data", (chunk: Buffer) => {
				receivedBytes += chunk.length;
				if (receivedBytes > limit) {
					request.removeAllListeners("data");
					reject(new AppError("payload_too_large"));
					return;
				}
				chunks.push(chunk);
			});
			request.on("end", () => resolve(Buffer.concat(chunks, receivedBytes)));
			// A client that drops the connection mid-body: its own fault, nothing to log as a server error.
			request.on("error", () =>
				reject(
					new AppError("invalid_request", {
						description: "The request body did not arrive whole.",
					}),
				),
			);
		});
	}

	/** Writes the reply; true when its body is a stream still being sent. */
	#send(response: ServerResponse, requestId: string, reply: RawReply): boolean {
		const headers: Record<string, string> = { ...SECURITY_HEADERS };
		headers[REQUEST_ID_HEADER] = requestId;
		if (reply.headers !== undefined) Object.assign(headers, reply.headers);
		// The rest of a refused body is never read: the connection cannot carry another request.
		if (this.#isClosing || reply.status === 413) headers.connection = "close";
		if (reply.error !== undefined) {
			const text = JSON.stringify(errorBody(reply.error, requestId));
			headers["content-type"] = "application/json; charset=utf-8";
			headers["content-length"] = String(Buffer.byteLength(text));
			response.writeHead(reply.status, headers).end(text);
			return false;
		}
		const { body } = reply;
		if (body === undefined) {
			response.writeHead(reply.status, headers).end();
			return false;
		}
		headers["content-type"] = body.contentType;
		if ("bytes" in body) {
			headers["content-length"] = String(body.bytes.length);
			response.writeHead(reply.status, headers).end(body.bytes);
			return false;
		}
		headers["content-length"] = String(body.lengthBytes);
		response.writeHead(reply.status, headers);
		// Once the headers are out an error can only cut the response short: the client sees a short body.
		// pipeline also closes the source when the client hangs up mid-body.
		pipeline(body.stream, response, () => {});
		return true;
	}
}
