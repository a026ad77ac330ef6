/**
 * How the file server's answers (file-answers.ts) go out: through Fastify, and through the raw node:http
 * fast path; and its errors, as `{"status_code": N}` with HTTP N — including the 503 of an unreachable store
 * and the 500 of a fault, which Tollgate's own error body would otherwise answer.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { type AppError, isClientAborted, logClientAborted, logFailure, toAppError } from "#errors";
import type { RawReply } from "../../http/raw-routes.ts";
import { type FileAnswer, jsonAnswer, statusAnswer } from "./file-answers.ts";

export function sendAnswer(reply: FastifyReply, answer: FileAnswer): FastifyReply {
	reply.code(answer.status).headers(answer.headers);
	const { body } = answer;
	if (body === null) return reply.send();
	// A Buffer, so the content type stays exactly `application/json`: Fastify adds a charset to a string.
	if (Buffer.isBuffer(body)) return reply.send(body);
	return reply.header("content-length", body.lengthBytes).send(body.stream);
}

export function sendJson(reply: FastifyReply, status: number, body: unknown): FastifyReply {
	return sendAnswer(reply, jsonAnswer(status, body));
}

/** The same answer for the raw node:http path. */
export function rawReplyOf(answer: FileAnswer): RawReply {
	const { "content-type": contentType = "application/octet-stream", ...headers } = answer.headers;
	const { body } = answer;
	return {
		status: answer.status,
		headers,
		...(body === null
			? {}
			: {
					body: Buffer.isBuffer(body)
						? { contentType, bytes: body }
						: { contentType, stream: body.stream, lengthBytes: body.lengthBytes },
				}),
	};
}

/** A fault on the raw path, in the file server's error shape. */
export function rawFileServerError(error: AppError): RawReply {
	return rawReplyOf(statusAnswer(error.status));
}

/** The error handler of the file server's Fastify routes. */
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
	return sendAnswer(reply, statusAnswer(appError.status));
}
