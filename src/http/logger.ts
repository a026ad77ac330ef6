/**
 * pino JSON logs. Credentials are always redacted; personal data (client addresses, public keys, e-mail
 * addresses) too unless `logging.unsafe` (the Session Pro backend's `unsafe_logging`).
 */
import { type DestinationStream, type Logger, pino } from "pino";
import type { FoundationConfig } from "#config";

/** pino's `*` matches one level: a field logged at the top of the line needs its own path. */
function atAnyOfTwoLevels(fields: readonly string[]): string[] {
	return fields.flatMap((field) => [field, `*.${field}`]);
}

const CREDENTIAL_PATHS = [
	"req.headers.authorization",
	"req.headers.cookie",
	'req.headers["x-api-key"]',
	'res.headers["set-cookie"]',
	...atAnyOfTwoLevels(["password", "secret", "token", "access_token", "refresh_token", "api_key"]),
];

const PERSONAL_DATA_PATHS = [
	"req.remoteAddress",
	"req.ip",
	"req.ips",
	'req.headers["x-forwarded-for"]',
	'req.headers["x-real-ip"]',
	...atAnyOfTwoLevels([
		"ip",
		"email",
		"pubkey",
		"public_key",
		"master_pkey",
		"rotating_pkey",
		"user_id",
	]),
];

export function redactedPaths(isUnsafe: boolean): string[] {
	return isUnsafe ? CREDENTIAL_PATHS : [...CREDENTIAL_PATHS, ...PERSONAL_DATA_PATHS];
}

/** Each logger createLogger made, with its sibling for access lines. */
const accessLoggers = new WeakMap<Logger, Logger>();

/** Access lines are written in batches of about this much, or at least every second. */
const ACCESS_LOG_BATCH_BYTES = 8 * 1024;
const ACCESS_LOG_FLUSH_MS = 1_000;

/**
 * The access lines' own stream on stdout: one write(2) per request costs more than the line itself, so they
 * are batched (and flushed every second, and at exit, so none is lost and none waits long).
 */
function batchedStdout(): DestinationStream {
	const stream = pino.destination({ dest: 1, sync: false, minLength: ACCESS_LOG_BATCH_BYTES });
	setInterval(() => stream.flush(), ACCESS_LOG_FLUSH_MS).unref();
	return stream;
}

/** Whether the log is for people: `logging.format`, where `auto` means "stdout is a terminal". */
export function isPrettyLog(config: FoundationConfig): boolean {
	return (
		config.logging.format === "pretty" ||
		(config.logging.format === "auto" && process.stdout.isTTY === true)
	);
}

const LEVEL_NAMES: Readonly<Record<number, string>> = {
	10: "TRACE",
	20: "DEBUG",
	30: "INFO ",
	40: "WARN ",
	50: "ERROR",
	60: "FATAL",
};
const LINE_FIELDS = new Set(["level", "time", "msg", "service", "pid", "hostname"]);

/** One pino JSON line as people read it: time, level, message, then the other fields as key=value. */
export function prettyLine(json: string): string {
	let entry: Record<string, unknown>;
	try {
		entry = JSON.parse(json) as Record<string, unknown>;
	} catch {
		return json;
	}
	const time = new Date(Number(entry.time)).toISOString().slice(11, 19);
	const fields = Object.entries(entry)
		.filter(([key]) => !LINE_FIELDS.has(key))
		.map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`);
	return `${time} ${LEVEL_NAMES[Number(entry.level)] ?? "     "} ${String(entry.msg ?? "")}${fields.length === 0 ? "" : `  ${fields.join(" ")}`}\n`;
}

function prettyStdout(): DestinationStream {
	return {
		write: (chunk: string) => {
			for (const line of chunk.split("\n")) if (line !== "") process.stdout.write(prettyLine(line));
		},
	};
}

export function createLogger(config: FoundationConfig, destination?: DestinationStream): Logger {
	const base = { level: config.logging.level, base: { service: "tollgate" } };
	const isPretty = destination === undefined && isPrettyLog(config);
	const logger = pino(
		{ ...base, redact: { paths: redactedPaths(config.logging.unsafe), censor: "[redacted]" } },
		destination ?? (isPretty ? prettyStdout() : pino.destination(1)),
	);
	accessLoggers.set(
		logger,
		pino(base, destination ?? (isPretty ? prettyStdout() : batchedStdout())),
	);
	return logger;
}

/**
 * The logger for access lines, writing to the same place as `logger`: one line per request, of fields
 * chosen to hold no personal data (the URL and the client address only when logging.unsafe), so it skips
 * the redaction pass, which costs about three times the line itself.
 */
export function accessLoggerOf(logger: Logger): Logger {
	return accessLoggers.get(logger) ?? logger;
}
