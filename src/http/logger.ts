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

export function createLogger(config: FoundationConfig, destination?: DestinationStream): Logger {
	const options = {
		level: config.logging.level,
		base: { service: "tollgate" },
		redact: { paths: redactedPaths(config.logging.unsafe), censor: "[redacted]" },
	};
	return destination === undefined ? pino(options) : pino(options, destination);
}
