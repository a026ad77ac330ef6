/**
 * How the file server answers, byte-compatible with the original (specs/session-file-server.md §3): JSON
 * as exactly `application/json`, and every error as `{"status_code": N}` with HTTP N — including the 503
 * of an unreachable store and the 500 of a fault, which Tollgate's own error body would otherwise answer.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { isClientAborted, logClientAborted, logFailure, toAppError } from "#errors";

export function sendJson(reply: FastifyReply, status: number, body: unknown): FastifyReply {
	// Exactly `application/json`: desktop's v4 decoder compares the whole content type, and Fastify adds a
	// charset to JSON sent as a string, not to a Buffer.
	return reply
		.code(status)
		.header("content-type", "application/json")
		.send(Buffer.from(JSON.stringify(body), "utf8"));
}

export function sendStatus(reply: FastifyReply, status: number): FastifyReply {
	return sendJson(reply, status, { status_code: status });
}

/** The error handler of the file server's routes. */
export function answerFileServerError(
	error: FastifyError,
	request: FastifyRequest,
	reply: FastifyReply,
): FastifyReply {
	if (isClientAborted(request.raw)) {
		logClientAborted(request.log);
		return reply.code(400).send();
	}
	const appError = toAppError(error);
	logFailure(request.log, appError);
	return sendStatus(reply, appError.status);
}
