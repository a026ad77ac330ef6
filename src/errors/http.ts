/**
 * The one place that turns errors into HTTP responses: `{ error, error_description, request_id }`, for
 * Fastify routes and the raw node:http routes alike. Server faults are logged with their cause and
 * answered with the catalogue's generic text only; an unreachable store is a warning (it says nothing
 * about the request), and a client that hung up mid-request is logged at info as `client_aborted`.
 */
import type { IncomingMessage } from "node:http";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { AppError } from "./app-error.ts";
import { ERROR_CATALOGUE, type ErrorCode, isErrorCode } from "./codes.ts";

export interface ErrorBody {
	readonly error: ErrorCode;
	readonly error_description: string;
	readonly request_id: string;
}

/** The pino methods failure logging needs (a request's child logger or the root one). */
export interface FailureLog {
	error(fields: object, message: string): void;
	warn(fields: object, message: string): void;
	info(fields: object, message: string): void;
}

/** A status's general code is the catalogue's first with it (invalid_request before invalid_grant). */
const CODE_BY_STATUS: ReadonlyMap<number, ErrorCode> = new Map(
	Object.keys(ERROR_CATALOGUE)
		.filter(isErrorCode)
		.reverse()
		.map((code) => [ERROR_CATALOGUE[code].status, code]),
);

interface ValidationEntry {
	readonly instancePath?: string;
	readonly message?: string;
}

/** Names the field: `body.user.email: Invalid email address`. */
function describeValidation(error: Partial<FastifyError>): string {
	const entries: readonly ValidationEntry[] = error.validation ?? [];
	const context = error.validationContext ?? "request";
	const parts = entries.map((entry) => {
		const field = (entry.instancePath ?? "").split("/").filter(Boolean).join(".");
		return `${field === "" ? context : `${context}.${field}`}: ${entry.message ?? "invalid"}`;
	});
	return parts.length > 0 ? parts.join("; ") : (error.message ?? "invalid request");
}

export function toAppError(error: unknown): AppError {
	if (error instanceof AppError) return error;
	if (!(error instanceof Error)) return new AppError("internal_error", { cause: error });
	const fastifyError: Partial<FastifyError> = error;
	if (fastifyError.validation !== undefined) {
		return new AppError("invalid_request", {
			description: describeValidation(fastifyError),
			cause: error,
		});
	}
	const status = fastifyError.statusCode;
	if (status !== undefined && status >= 400 && status < 500) {
		const code = CODE_BY_STATUS.get(status) ?? "invalid_request";
		return new AppError(code, { description: error.message, cause: error });
	}
	if (status === 503) return new AppError("service_unavailable", { cause: error });
	return new AppError("internal_error", { cause: error });
}

/** The request ended because its client went away before sending all of it. */
export function isClientAborted(request: IncomingMessage): boolean {
	return request.destroyed && !request.complete;
}

export function errorBody(error: AppError, requestId: string): ErrorBody {
	return {
		error: error.code,
		error_description: error.expose ? error.message : ERROR_CATALOGUE[error.code].message,
		request_id: requestId,
	};
}

function causeText(error: AppError): string {
	const { cause } = error;
	return cause instanceof Error ? cause.message : String(cause ?? error.message);
}

/** Logs a request that failed with `error`; `fields` join the line (request id, route). */
export function logFailure(log: FailureLog, error: AppError, fields: object = {}): void {
	if (error.code === "service_unavailable") {
		log.warn(
			{ ...fields, code: error.code, reason: causeText(error) },
			"request refused: store unreachable",
		);
	} else if (error.status >= 500) {
		log.error({ ...fields, err: error.cause ?? error, code: error.code }, "request failed");
	} else {
		log.info({ ...fields, code: error.code, reason: error.message }, "request rejected");
	}
}

export function logClientAborted(log: FailureLog, fields: object = {}): void {
	log.info({ ...fields, code: "client_aborted" }, "client hung up before the request was complete");
}

export function sendError(
	request: FastifyRequest,
	reply: FastifyReply,
	error: AppError,
): FastifyReply {
	if (error.retryAfterSeconds !== undefined)
		reply.header("retry-after", String(error.retryAfterSeconds));
	return reply
		.code(error.status)
		.type("application/json; charset=utf-8")
		.send(errorBody(error, request.id));
}

export function registerErrorHandling(app: FastifyInstance): void {
	app.setErrorHandler((error, request, reply) => {
		if (isClientAborted(request.raw)) {
			logClientAborted(request.log);
			return reply.code(400).send();
		}
		const appError = toAppError(error);
		logFailure(request.log, appError);
		return sendError(request, reply, appError);
	});
	app.setNotFoundHandler((request, reply) =>
		sendError(
			request,
			reply,
			new AppError("not_found", {
				description: `No route for ${request.method} ${request.url.split("?")[0]}`,
			}),
		),
	);
}
