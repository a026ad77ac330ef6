/**
 * Tells a backing store that cannot be reached (connection refused, reset or terminated by the server,
 * no pooled connection in time, SQLite busy past its timeout or out of disk) from every other failure.
 * Such faults become `service_unavailable` (503) at the storage boundary, so routes answer "retry later"
 * rather than reporting a server fault, and recover by themselves once the store is back.
 */
import { AppError } from "#errors";

const UNREACHABLE_ERRNOS = new Set([
	"ECONNREFUSED",
	"ECONNRESET",
	"ECONNABORTED",
	"EPIPE",
	"ETIMEDOUT",
	"EHOSTUNREACH",
	"ENETUNREACH",
	"ENOTFOUND",
	"EAI_AGAIN",
]);

/** SQLSTATE classes 08 (connection exception) and 53 (insufficient resources), and 57P01–57P03 (shutdown). */
const POSTGRES_UNAVAILABLE_STATE = /^(08[0-9A-Z]{3}|53[0-9A-Z]{3}|57P0[123])$/;
const SQLITE_UNAVAILABLE_CODE = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|PROTOCOL|NOMEM)/;
/** node-postgres reports a connection that dies under a query, or a pool wait that times out, by message only. */
const POSTGRES_CONNECTION_MESSAGE =
	/^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed and is not queryable)/;

const MAX_CAUSE_DEPTH = 4;

function codeOf(error: Error): string | undefined {
	return "code" in error && typeof error.code === "string" ? error.code : undefined;
}

export function isStoreUnreachable(error: unknown, depth = 0): boolean {
	if (!(error instanceof Error) || depth > MAX_CAUSE_DEPTH) return false;
	if (error instanceof AppError) return error.code === "service_unavailable";
	// Connecting to a host name tries each of its addresses; all of them failing is one AggregateError.
	if (error instanceof AggregateError && error.errors.some((inner) => isStoreUnreachable(inner)))
		return true;
	const code = codeOf(error);
	if (
		code !== undefined &&
		(UNREACHABLE_ERRNOS.has(code) ||
			POSTGRES_UNAVAILABLE_STATE.test(code) ||
			SQLITE_UNAVAILABLE_CODE.test(code))
	)
		return true;
	return (
		POSTGRES_CONNECTION_MESSAGE.test(error.message) || isStoreUnreachable(error.cause, depth + 1)
	);
}

/** `service_unavailable` for a store that cannot be reached; any other error unchanged. */
export function asUnavailableWhenUnreachable(error: unknown): unknown {
	if (error instanceof AppError || !isStoreUnreachable(error)) return error;
	return new AppError("service_unavailable", { cause: error });
}

/** Runs synchronous store work (better-sqlite3), reporting an unreachable store as `service_unavailable`. */
export function reportingUnreachable<T>(work: () => T): T {
	try {
		return work();
	} catch (error) {
		throw asUnavailableWhenUnreachable(error);
	}
}
