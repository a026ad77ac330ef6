/**
 * A few routes answered on node:http before Fastify sees the request: hot paths whose own work is small
 * next to Fastify's per-request work (child logger, hooks, serialisation), such as /edge/check, which nginx
 * asks on every request it guards (bench/ edge-auth-request), and the Session Pro calls every client makes
 * (bench/ entitlements-proof). These routes still send the request id and the security headers, answer
 * errors with the one error body, keep the body limit, and count in /metrics. Each keeps a Fastify twin for
 * OpenAPI, inject()-based callers (onion requests) and tests, and both call one decision function.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import {
	AppError,
	errorBody,
	isClientAborted,
	logClientAborted,
	logFailure,
	toAppError,
} from "#errors";
import { generateRequestId } from "./plugins/request-id.ts";
import { REQUEST_ID_HEADER, SECURITY_HEADERS } from "./plugins/response-headers.ts";

export interface RawReply {
	readonly status: number;
	/** An error to answer with; none for 2xx. */
	readonly error?: AppError;
	/** A 2xx body, sent as it is. */
	readonly body?: { readonly contentType: string; readonly bytes: Buffer };
}

export interface RawRequestContext {
	readonly query: URLSearchParams;
	/** The whole request body (POST), within the body limit; empty for GET. */
	readonly body: Buffer;
	/** The id the response carries, for log lines about this request. */
	readonly requestId: string;
}

export type RawRouteHandler = (
	request: IncomingMessage,
	context: RawRequestContext,
) => Promise<RawReply>;

type RawMethod = "GET" | "POST";

const NO_BODY = Buffer.alloc(0);

export type ResponseObserver = (
	method: string,
	route: string,
	statusCode: number,
	seconds: number,
) => void;

export class RawRoutes {
	readonly #handlers = new Map<string, RawRouteHandler>();
	readonly #logger: Logger;
	readonly #bodyLimitBytes: number;
	#observe: ResponseObserver = () => {};
	#isClosing = false;

	constructor(logger: Logger, options: { readonly bodyLimitBytes: number }) {
		this.#logger = logger;
		this.#bodyLimitBytes = options.bodyLimitBytes;
	}

	add(method: RawMethod, path: string, handler: RawRouteHandler): void {
		this.#handlers.set(`${method} ${path}`, handler);
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
		const { method, url } = request;
		if ((method !== "GET" && method !== "POST") || url === undefined) return false;
		const queryStart = url.indexOf("?");
		const path = queryStart === -1 ? url : url.slice(0, queryStart);
		const handler = this.#handlers.get(`${method} ${path}`);
		if (handler === undefined) return false;
		const startedAt = process.hrtime.bigint();
		const requestId = generateRequestId(request);
		const query = new URLSearchParams(queryStart === -1 ? "" : url.slice(queryStart + 1));
		const answered =
			method === "POST"
				? this.#readBody(request).then((body) => handler(request, { query, body, requestId }))
				: handler(request, { query, body: NO_BODY, requestId });
		void answered
			.catch((error: unknown): RawReply => {
				const appError = toAppError(error);
				if (isClientAborted(request))
					logClientAborted(this.#logger, { request_id: requestId, route: path });
				else logFailure(this.#logger, appError, { request_id: requestId, route: path });
				return { status: appError.status, error: appError };
			})
			.then((reply) => {
				// A client that went away mid-body has nobody left to answer.
				if (response.destroyed) return;
				this.#send(response, requestId, reply);
				this.#observe(
					method,
					path,
					reply.status,
					Number(process.hrtime.bigint() - startedAt) / 1e9,
				);
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

	#send(response: ServerResponse, requestId: string, reply: RawReply): void {
		const headers: Record<string, string> = { ...SECURITY_HEADERS, [REQUEST_ID_HEADER]: requestId };
		// The rest of a refused body is never read: the connection cannot carry another request.
		if (this.#isClosing || reply.status === 413) headers.connection = "close";
		if (reply.error === undefined) {
			if (reply.body === undefined) {
				response.writeHead(reply.status, headers).end();
				return;
			}
			response
				.writeHead(reply.status, {
					...headers,
					"content-type": reply.body.contentType,
					"content-length": String(reply.body.bytes.length),
				})
				.end(reply.body.bytes);
			return;
		}
		const text = JSON.stringify(errorBody(reply.error, requestId));
		response
			.writeHead(reply.status, {
				...headers,
				"content-type": "application/json; charset=utf-8",
				"content-length": String(Buffer.byteLength(text)),
			})
			.end(text);
	}
}
