/**
 * What stopped `serve` (or `migrate`) before it could start, said in one line with what to do, and the
 * documented exit code for it: 3 an engine cannot be reached (or refuses the login), 4 the PostgreSQL
 * database does not exist, 5 the port cannot be bound. Anything else is not a start-up failure of the
 * environment and keeps its stack trace.
 */
import type { FoundationConfig } from "#config";
import { describeDatabase } from "../storage/index.ts";

export interface StartupFailure {
	readonly exitCode: 3 | 4 | 5;
	readonly reason: string;
}

export const EXIT_UNREACHABLE = 3;
export const EXIT_DATABASE_MISSING = 4;
export const EXIT_PORT_UNAVAILABLE = 5;

const UNREACHABLE = new Set([
	"ECONNREFUSED",
	"ENOTFOUND",
	"EHOSTUNREACH",
	"ETIMEDOUT",
	"EAI_AGAIN",
]);

interface CodedError {
	readonly code: string;
	readonly message: string;
	readonly syscall?: string;
}

/** Every error in the cause chain (AggregateError's too), outermost first. */
function* chainOf(error: unknown, depth = 0): Generator<unknown> {
	if (error === undefined || error === null || depth > 10) return;
	yield error;
	if (error instanceof AggregateError)
		for (const inner of error.errors) yield* chainOf(inner, depth + 1);
	if (error instanceof Error) yield* chainOf(error.cause, depth + 1);
}

function codedErrorIn(error: unknown, codes: (code: string) => boolean): CodedError | undefined {
	for (const candidate of chainOf(error))
		if (
			typeof candidate === "object" &&
			candidate !== null &&
			"code" in candidate &&
			typeof candidate.code === "string" &&
			codes(candidate.code)
		)
			return {
				code: candidate.code,
				message: candidate instanceof Error ? candidate.message : String(candidate.code),
				...("syscall" in candidate && typeof candidate.syscall === "string"
					? { syscall: candidate.syscall }
					: {}),
			};
	return undefined;
}

export function startupFailureOf(error: unknown, config: FoundationConfig): StartupFailure | null {
	const address = `${config.http.host}:${config.http.port}`;
	const listen = codedErrorIn(error, (code) => code === "EADDRINUSE" || code === "EACCES");
	if (listen?.code === "EADDRINUSE")
		return {
			exitCode: EXIT_PORT_UNAVAILABLE,
			reason: `${address} is already in use: stop what listens there, or choose another port with --port or http.port (TOLLGATE_HTTP_PORT)`,
		};
	if (listen?.code === "EACCES" && listen.syscall === "listen")
		return {
			exitCode: EXIT_PORT_UNAVAILABLE,
			reason: `may not listen on ${address} (EACCES): ports below 1024 need privileges; choose another with --port or http.port`,
		};
	const database = describeDatabase(config);
	const missing = codedErrorIn(error, (code) => code === "3D000");
	if (missing !== undefined && config.database.url !== undefined) {
		const name = decodeURIComponent(new URL(config.database.url).pathname.slice(1));
		return {
			exitCode: EXIT_DATABASE_MISSING,
			reason: `database ${database} does not exist: create it with \`createdb ${name}\`, or set database.create_if_missing = true (TOLLGATE_DATABASE_CREATE_IF_MISSING=1)`,
		};
	}
	const login = codedErrorIn(error, (code) => code === "28P01" || code === "28000");
	if (login !== undefined)
		return {
			exitCode: EXIT_UNREACHABLE,
			reason: `${database} refused the login (${login.message}): check the user and password in database.url`,
		};
	const unreachable = codedErrorIn(error, (code) => UNREACHABLE.has(code));
	if (unreachable !== undefined)
		return {
			exitCode: EXIT_UNREACHABLE,
			reason: `cannot reach ${config.database.url === undefined ? "the database" : database} (${unreachable.code}): is the server running, and is database.url right?`,
		};
	const sqlite = codedErrorIn(error, (code) => code === "SQLITE_CANTOPEN" || code === "EACCES");
	if (sqlite !== undefined)
		return {
			exitCode: EXIT_UNREACHABLE,
			reason: `cannot open ${database} (${sqlite.code}): is data_dir (${config.data_dir}) writable?`,
		};
	return null;
}
