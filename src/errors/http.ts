/**
 * The one place that turns errors into HTTP responses: `{ error, error_description, request_id }`.
 * Server faults are logged with their cause and answered with the catalogue's generic text only.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { AppError } from "./app-error.ts";
import { ERROR_CATALOGUE, type ErrorCode, isErrorCode } from "./codes.ts";

export interface ErrorBody {
	readonly error: ErrorCode;
	readonly error_description: string;
	readonly request_id: string;
}

const CODE_BY_STATUS: ReadonlyMap<number, ErrorCode> = new Map(
	Object.keys(ERROR_CATALOGUE)
		.filter(isErrorCode)
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

function toAppError(error: unknown): AppError {
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

export function errorBody(request: FastifyRequest, error: AppError): ErrorBody {
	return {
		error: error.code,
		error_description: error.expose ? error.message : ERROR_CATALOGUE[error.code].message,
		request_id: request.id,
	};
}

export function sendError(
	request: FastifyRequest,
	reply: FastifyReply,
	error: AppError,
): FastifyReply {
	return reply
		.code(error.status)
		.type("application/json; charset=utf-8")
		.send(errorBody(request, error));
}

export function registerErrorHandling(app: FastifyInstance): void {
	app.setErrorHandler((error, request, reply) => {
		const appError = toAppError(error);
		if (appError.status >= 500) {
			request.log.error({ err: appError.cause ?? appError, code: appError.code }, "request failed");
		} else {
			request.log.info({ code: appError.code, reason: appError.message }, "request rejected");
		}
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
