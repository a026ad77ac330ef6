/**
 * One access line per request, written when the response is done: method, route pattern, status,
 * duration and (from the request's logger) the request id. Fastify's own lines (incoming, completed,
 * route not found) are not written: they log the URL as sent, whose path parameters and query carry file
 * ids, session ids, user ids and e-mail addresses. The URL and the client address join the line only
 * with `logging.unsafe`.
 */
import { type FastifyReply, type FastifyRequest, LogController } from "fastify";

const UNMATCHED_ROUTE = "(no route)";

export class AccessLogController extends LogController {
	readonly #isPersonalDataLogged: boolean;

	constructor(options: { readonly isPersonalDataLogged: boolean }) {
		super({ requestIdLogLabel: "request_id" });
		this.#isPersonalDataLogged = options.isPersonalDataLogged;
	}

	override incomingRequest(): void {}

	override routeNotFound(): void {}

	override requestCompleted(
		error: Error | null | undefined,
		request: FastifyRequest,
		reply: FastifyReply,
	): void {
		const line = {
			method: request.method,
			route: request.routeOptions.url ?? UNMATCHED_ROUTE,
			status_code: reply.statusCode,
			duration_ms: Math.round(reply.elapsedTime * 1_000) / 1_000,
			...(this.#isPersonalDataLogged ? { url: request.url, ip: request.ip } : {}),
		};
		if (error) request.log.warn({ ...line, reason: error.message }, "response failed");
		else request.log.info(line, "request");
	}

	override writeHeadError(error: Error, _request: FastifyRequest, reply: FastifyReply): void {
		reply.log.warn({ reason: error.message }, "response headers could not be written");
	}
}
