/**
 * One access line per request, written when the response is done: method, route pattern, status,
 * duration and (from the request's logger) the request id. Fastify's own lines (incoming, completed,
 * route not found) are not written: they log the URL as sent, whose path parameters and query carry file
 * ids, session ids, user ids and e-mail addresses. The URL and the client address join the line only
 * with `logging.unsafe`.
 */
import { type FastifyReply, type FastifyRequest, LogController } from "fastify";
import type { Logger } from "pino";

const UNMATCHED_ROUTE = "(no route)";

export class AccessLogController extends LogController {
	readonly #isPersonalDataLogged: boolean;
	/** Writes lines of known fields only, so it skips the redaction pass (accessLoggerOf). */
	readonly #accessLogger: Logger;

	constructor(options: { readonly isPersonalDataLogged: boolean; readonly accessLogger: Logger }) {
		super({ requestIdLogLabel: "request_id" });
		this.#isPersonalDataLogged = options.isPersonalDataLogged;
		this.#accessLogger = options.accessLogger;
	}

	override incomingRequest(): void {}

	override routeNotFound(): void {}

	override requestCompleted(
		error: Error | null | undefined,
		request: FastifyRequest,
		reply: FastifyReply,
	): void {
		const line = {
			request_id: request.id,
			method: request.method,
			route: request.routeOptions.url ?? UNMATCHED_ROUTE,
			status_code: reply.statusCode,
			duration_ms: Math.round(reply.elapsedTime * 1_000) / 1_000,
			...(this.#isPersonalDataLogged ? { url: request.url, ip: request.ip } : {}),
		};
		if (error) request.log.warn({ ...line, reason: error.message }, "response failed");
		else this.#accessLogger.info(line, "request");
	}

	override writeHeadError(error: Error, _request: FastifyRequest, reply: FastifyReply): void {
		reply.log.warn({ reason: error.message }, "response headers could not be written");
	}
}
