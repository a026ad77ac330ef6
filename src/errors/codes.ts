/**
 * The closed catalogue of error codes a client can see. Codes are wire contracts: never rename or
 * reuse one; add new ones. docs/errors.md is generated from this record and checked in CI.
 */
export const ERROR_CATALOGUE = {
	invalid_request: { status: 400, message: "The request is malformed or a field is invalid." },
	invalid_grant: {
		status: 400,
		message: "The login, link or grant is invalid, expired or already used.",
	},
	unauthorized: { status: 401, message: "Missing or invalid credentials." },
	forbidden: { status: 403, message: "The credentials do not allow this." },
	step_up_required: {
		status: 401,
		message: "This needs a fresh proof that it is you: sign in again with a password or passkey.",
	},
	not_found: { status: 404, message: "No such resource." },
	method_not_allowed: { status: 405, message: "The resource does not support this method." },
	conflict: { status: 409, message: "The request conflicts with the current state." },
	payload_too_large: { status: 413, message: "The request body is larger than allowed." },
	unsupported_media_type: {
		status: 415,
		message: "The request body has an unsupported content type.",
	},
	rate_limited: { status: 429, message: "Too many requests; retry later." },
	internal_error: { status: 500, message: "An internal error occurred." },
	not_implemented: { status: 501, message: "This server does not do that (yet)." },
	upstream_unavailable: {
		status: 504,
		message:
			"The upstream service (a hub) did not answer in time or could not be reached; retry later.",
	},
	upstream_error: {
		status: 502,
		message: "The upstream service (a hub) answered in a way that cannot be passed on.",
	},
	service_unavailable: {
		status: 503,
		message: "A backing service is unreachable or the server is shutting down; retry later.",
	},
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export function isErrorCode(value: string): value is ErrorCode {
	return Object.hasOwn(ERROR_CATALOGUE, value);
}
