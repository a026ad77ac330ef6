/**
 * The service-wide part of the one configuration schema (modules add their sections: src/platform/config.ts):
 * types, defaults and the text of docs/config.md all come from it. Each leaf is settable from
 * tollgate.toml (`[section] key = …`) or `TOLLGATE_<SECTION>_<KEY>` (docs/adr/0002 for deeper keys).
 * Secrets carry `secret: true` in their metadata so `config check` masks them; none has a default.
 */
import { z } from "zod";

const portNumber = z.number().int().min(0).max(65_535);

const httpSection = z
	.strictObject({
		host: z.string().min(1).default("127.0.0.1").meta({ description: "Address to listen on." }),
		port: portNumber
			.default(8080)
			.meta({ description: "TCP port to listen on (0 picks a free one)." }),
		body_limit_bytes: z
			.number()
			.int()
			.positive()
			.default(1_048_576)
			.meta({ description: "Largest request body a JSON route accepts; bigger bodies get 413." }),
		trust_proxy: z
			.boolean()
			.default(false)
			.meta({ description: "Take the client address from X-Forwarded-For (set behind nginx)." }),
		request_timeout_ms: z.number().int().nonnegative().default(30_000).meta({
			description: "Time a client has to send a whole request (slow-loris guard); 0 = none.",
		}),
		shutdown_timeout_ms: z.number().int().positive().default(10_000).meta({
			description: "On SIGTERM, how long in-flight requests may take before the process exits.",
		}),
	})
	.prefault({});

const databaseSection = z
	.strictObject({
		url: z
			.string()
			.regex(/^postgres(ql)?:\/\//, "expected a postgres:// or postgresql:// URL")
			.optional()
			.meta({
				description: "PostgreSQL connection URL. Unset: SQLite at <data_dir>/tollgate.db.",
				secret: true,
			}),
		pool_max: z
			.number()
			.int()
			.positive()
			.default(10)
			.meta({ description: "Most PostgreSQL connections one instance opens." }),
		connect_timeout_ms: z.number().int().positive().default(5_000).meta({
			description:
				"How long a query waits for a PostgreSQL connection before it is answered 503 service_unavailable.",
		}),
		create_if_missing: z.boolean().default(false).meta({
			description:
				"Create the PostgreSQL database named in database.url when it does not exist (its user needs CREATEDB). Off: start-up stops with exit code 4 and says how to create it.",
		}),
		sqlite_backup_interval_hours: z.number().int().nonnegative().default(24).meta({
			description:
				"On SQLite: how often a consistent copy of the database goes to <data_dir>/backups (the last 180 days and the first of each earlier month are kept). 0 = no backups.",
		}),
	})
	.prefault({});

const kvSection = z
	.strictObject({
		url: z
			.string()
			.regex(/^rediss?:\/\//, "expected a redis:// or rediss:// URL")
			.optional()
			.meta({
				description: "Redis URL. Unset: the embedded store at <data_dir>/kv.db (one machine).",
				secret: true,
			}),
		key_prefix: z
			.string()
			.default("tollgate:")
			.meta({ description: "Prefix of every key Tollgate writes to Redis." }),
	})
	.prefault({});

const blobsSection = z
	.strictObject({
		backend: z.enum(["filesystem", "database"]).default("filesystem").meta({
			description:
				"Where blobs live: files under <data_dir>/blobs, or rows in the SQL database (PostgreSQL in production).",
		}),
	})
	.prefault({});

const loggingSection = z
	.strictObject({
		level: z
			.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"])
			.default("info")
			.meta({ description: "Lowest level written to stdout." }),
		unsafe: z.boolean().default(false).meta({
			description:
				"Log personal data (client addresses, keys, e-mail addresses) in clear. Credentials stay redacted.",
		}),
		format: z.enum(["auto", "json", "pretty"]).default("auto").meta({
			description:
				"json: one JSON object a line (for log collectors); pretty: a start-up banner and short human lines; auto: pretty when stdout is a terminal, else json.",
		}),
	})
	.prefault({});

const keysSection = z
	.strictObject({
		ed25519_file: z.string().min(1).optional().meta({
			description:
				"File holding the service's Ed25519 key (64 raw bytes seed‖pubkey, or 128 hex characters, as the Session servers write it). Unset: kept in the database, created on first start.",
		}),
		x25519_legacy_file: z.string().min(1).optional().meta({
			description:
				"Optional legacy X25519-only key (32 raw bytes, the Session file server's key_x25519) that onion requests may still be encrypted to; tried after the key derived from the Ed25519 one.",
		}),
	})
	.prefault({});

const jobsSection = z
	.strictObject({
		enabled: z.boolean().default(true).meta({
			description:
				"Run background jobs in this instance. Each job holds a cluster-wide lease, so leaving it on everywhere is safe.",
		}),
	})
	.prefault({});

/** The service-wide sections; each module adds its own (src/platform/config.ts). */
export const foundationShape = {
	dev: z.boolean().default(false).meta({
		description:
			"Development mode: deterministic dev keys (Ed25519 seed 32 × 0xCD) and dev-only shortcuts. Never in production.",
	}),
	data_dir: z
		.string()
		.min(1)
		.default("./data")
		.meta({ description: "Directory for the SQLite database, the embedded store and blobs." }),
	http: httpSection,
	database: databaseSection,
	kv: kvSection,
	blobs: blobsSection,
	logging: loggingSection,
	keys: keysSection,
	jobs: jobsSection,
};

export const foundationSchema = z.strictObject(foundationShape);

export type FoundationConfig = z.output<typeof foundationSchema>;
