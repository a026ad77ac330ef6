import { ERROR_CATALOGUE, type ErrorCode } from "./codes.ts";

export interface AppErrorOptions {
	/** Shown to the client when the status is below 500; defaults to the catalogue's text. */
	readonly description?: string;
	/** Logged, never sent. */
	readonly cause?: unknown;
	/** Sent as Retry-After (seconds), for a refusal that ends by itself (429, 503). */
	readonly retryAfterSeconds?: number;
}

/** A protocol error with a stable code; the HTTP error handler is the only place that renders it. */
export class AppError extends Error {
	readonly code: ErrorCode;
	readonly status: number;
	/** Whether `message` may be shown to the client: never for server faults. */
	readonly expose: boolean;
	readonly retryAfterSeconds: number | undefined;

	constructor(code: ErrorCode, options: AppErrorOptions = {}) {
		const entry = ERROR_CATALOGUE[code];
		super(options.description ?? entry.message, { cause: options.cause });
		this.name = "AppError";
		this.code = code;
		this.status = entry.status;
		this.expose = entry.status < 500;
		this.retryAfterSeconds = options.retryAfterSeconds;
	}
}
