/**
 * The one configuration schema: types, defaults and the text of docs/config.md all come from here.
 * Each leaf is settable from tollgate.toml (`[section] key = …`) or `TOLLGATE_<SECTION>_<KEY>`.
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

const sessionsSection = z
	.strictObject({
		enabled: z
			.boolean()
			.default(true)
			.meta({ description: "Serve the sessions API and /edge/check." }),
		format: z.enum(["v1", "resty"]).default("v1").meta({
			description:
				'Cookie and Redis format: "v1" (HMAC-SHA256, stored ids hashed; docs/edge-contract.md) or "resty" (byte-compatible with flask-resty-shared-session 0.1.2).',
		}),
		secret: z.string().min(1).optional().meta({
			description:
				"Signing secret shared with the edge (and, in resty format, the Flask app's secret_key; use 32+ random characters). Unset in v1 format: generated once and kept in the database (`tollgate sessions secret` prints it for the edge). Required in resty format.",
			secret: true,
		}),
		salt: z
			.string()
			.min(1)
			.default("flask-resty-session")
			.meta({ description: "itsdangerous salt (resty format only)." }),
		key_prefix: z.string().min(1).optional().meta({
			description:
				'Prefix of the session keys in Redis. Default: "resty_shared_session" in resty format, "tollgate_session" in v1.',
		}),
		cookie_name: z
			.string()
			.regex(/^[A-Za-z0-9_-]+$/)
			.optional()
			.meta({
				description:
					'Session cookie name. Default: "session" in resty format (Flask\'s), "tollgate_session" in v1.',
			}),
		cookie_secure: z
			.boolean()
			.default(true)
			.meta({ description: "Mark the cookie Secure (turn off only for plain-HTTP development)." }),
		ttl_seconds: z
			.number()
			.int()
			.positive()
			.default(2_678_400)
			.meta({ description: "Session lifetime, renewed by touch (Flask's default: 31 days)." }),
		app_api_keys: z.array(z.string().min(16)).default([]).meta({
			description:
				"Keys apps send as `Authorization: Bearer <key>` to the sessions API (comma-separated in the environment). None: the API refuses every call.",
			secret: true,
		}),
	})
	.prefault({});

const filesSection = z
	.strictObject({
		enabled: z
			.boolean()
			.default(true)
			.meta({ description: "Serve the Session file server routes (/file…)." }),
		max_file_size_bytes: z.number().int().positive().default(10_000_000).meta({
			description:
				"Largest upload; bigger ones get 413 (Session clients send up to 10,000,000 bytes).",
		}),
		default_ttl_seconds: z
			.number()
			.int()
			.nonnegative()
			.default(1_814_400)
			.meta({ description: "How long an upload lives without X-FS-TTL (3 weeks, as upstream)." }),
		max_ttl_seconds: z
			.number()
			.int()
			.nonnegative()
			.default(1_814_400)
			.meta({ description: "Largest X-FS-TTL accepted on upload and extend; more gets 400." }),
		backwards_compat_ids: z.boolean().default(false).meta({
			description:
				"Give uploads random numeric ids (below 2^53) for clients that parse ids as numbers, instead of 44-character content ids; identical uploads are then stored twice, as the original's compat mode does.",
		}),
		backwards_compat_id_fixed_bits: z
			.string()
			.regex(/^[01]{0,16}$/, "expected up to 16 binary digits")
			.default("")
			.meta({
				description:
					"Leading bits of every numeric id (the original's BACKWARDS_COMPAT_IDS_FIXED_BITS), e.g. to keep two servers' ids apart.",
			}),
		accel_redirect_prefix: z
			.string()
			.regex(
				/^\/(?:[A-Za-z0-9._~-]+\/)+$/,
				'expected a URI path that starts and ends with "/", like "/_tollgate_blobs/"',
			)
			.optional()
			.meta({
				description:
					"With filesystem blobs behind nginx: GET /file/<id> answers with X-Accel-Redirect: <prefix><blob path> and nginx sends the bytes. Must be the internal location of edge/files.conf. Unset: Tollgate streams them.",
			}),
		abandoned_upload_grace_seconds: z.number().int().nonnegative().default(3_600).meta({
			description:
				"How long an upload may take before a leased sweep deletes its bytes as abandoned (a crash, or a client that never finished). Keep it above http.request_timeout_ms.",
		}),
		sweep_interval_seconds: z
			.number()
			.int()
			.positive()
			.default(5)
			.meta({ description: "How often the (cluster-wide, leased) sweeper deletes expired files." }),
		release_poll_interval_seconds: z.number().int().min(60).default(1_800).meta({
			description:
				"How old a Session app's cached GitHub releases may get before the (leased) poller asks again (30 minutes, as upstream).",
		}),
		github_api_url: z
			.string()
			.regex(/^https?:\/\/[^/]/, "expected an http:// or https:// URL")
			.default("https://api.github.com")
			.meta({
				description:
					"GitHub REST API base for the release poller (GitHub Enterprise, or a fake in tests).",
			}),
		github_owner: z.string().min(1).default("session-foundation").meta({
			description:
				"Owner of the session-desktop, session-android and session-ios repositories whose releases /session_version serves.",
		}),
		github_token: z.string().min(1).optional().meta({
			description:
				"GitHub token for the release poller (lifts the unauthenticated 60 requests an hour); none needed for public repositories.",
			secret: true,
		}),
		version_checks_retention_days: z.number().int().nonnegative().default(30).meta({
			description:
				"How long signed version checks (blinded key, platform, channel, time) are kept; the original keeps them forever. 0 keeps none.",
		}),
	})
	.prefault({});

const entitlementsSection = z
	.strictObject({
		enabled: z.boolean().default(false).meta({
			description:
				"Serve the Session Pro backend routes (/status, /generate_pro_proof, …), signing proofs with the service key.",
		}),
		renewal_latency_allowance_seconds: z.number().int().min(0).max(604_800).default(3_600).meta({
			description:
				"How long past its store grace a renewing subscription stays covered, for renewals the store reports late (upstream: 1 hour).",
		}),
		apple_bundle_id: z.string().min(1).optional().meta({
			description:
				"The iOS app's bundle id. Set: POST /apple_notifications_v2 takes App Store Server Notifications V2 for it.",
		}),
		apple_environment: z.enum(["Production", "Sandbox"]).default("Production").meta({
			description: "Which App Store environment's notifications are accepted.",
		}),
		apple_app_apple_id: z.number().int().positive().optional().meta({
			description: "The app's Apple ID (a number); required in Production.",
		}),
		apple_root_certificates: z.array(z.string().min(1)).default([]).meta({
			description:
				"Paths of Apple's root certificates (DER, e.g. AppleRootCA-G3.cer from apple.com/certificateauthority) that notifications must chain to.",
		}),
		apple_online_checks: z.boolean().default(true).meta({
			description:
				"Check the notification certificates' revocation (OCSP) and expiry against the current time. Turn off only for tests.",
		}),
		apple_api_key_file: z.string().min(1).optional().meta({
			description:
				"Path of an App Store Connect API key (.p8). Set: a leased job replays notifications Apple failed to deliver, from its notification-history API, every apple_catch_up_interval_minutes.",
		}),
		apple_api_key_id: z.string().min(1).optional().meta({
			description: "The App Store Connect API key's id; required with apple_api_key_file.",
		}),
		apple_api_issuer_id: z.string().min(1).optional().meta({
			description: "The App Store Connect team's issuer id; required with apple_api_key_file.",
		}),
		apple_api_url: z
			.string()
			.regex(/^https?:\/\/[^/]/, "expected an http:// or https:// URL")
			.optional()
			.meta({
				description:
					"App Store Server API base URL; by default Apple's for apple_environment (a fake's, in tests).",
			}),
		apple_catch_up_interval_minutes: z.number().int().min(1).max(1_440).default(30).meta({
			description: "How often the notification-history catch-up runs.",
		}),
		google_package_name: z.string().min(1).optional().meta({
			description:
				"The Android app's package name (network.loki.messenger). Set: Google Play notifications for it are taken and its purchases read through the Play Developer API.",
		}),
		google_service_account_file: z.string().min(1).optional().meta({
			description:
				"Path of the service-account key (JSON, from the Google Cloud console) used for the Play Developer API and Pub/Sub.",
		}),
		google_pubsub_subscription: z
			.string()
			.regex(
				/^projects\/[^/]+\/subscriptions\/[^/]+$/,
				"expected projects/<project>/subscriptions/<name>",
			)
			.optional()
			.meta({
				description:
					"Pub/Sub pull subscription of the app's real-time developer notifications. Set: a leased job pulls it.",
			}),
		google_push_audience: z.string().min(1).optional().meta({
			description:
				"Audience of the Pub/Sub push subscription's OIDC token. Set: POST /google_notifications takes pushed notifications.",
		}),
		google_push_service_account: z.string().min(1).optional().meta({
			description:
				"E-mail of the service account Pub/Sub signs push tokens as; required with google_push_audience.",
		}),
		google_poll_interval_seconds: z.number().int().min(1).max(3_600).default(10).meta({
			description:
				"How often the leased Google job pulls notifications, reconciles queued purchases and acknowledges new ones.",
		}),
		google_play_api_url: z
			.string()
			.regex(/^https?:\/\/[^/]/, "expected an http:// or https:// URL")
			.default("https://androidpublisher.googleapis.com/")
			.meta({
				description: "Root URL of the Google Play Developer API (a fake's, in tests).",
			}),
		google_pubsub_url: z
			.string()
			.regex(/^https?:\/\/[^/]/, "expected an http:// or https:// URL")
			.default("https://pubsub.googleapis.com")
			.meta({
				description: "Root URL of the Pub/Sub REST API (a fake's, in tests).",
			}),
		google_oidc_certs_url: z
			.string()
			.regex(/^https?:\/\/[^/]/, "expected an http:// or https:// URL")
			.default("https://www.googleapis.com/oauth2/v3/certs")
			.meta({
				description: "Google's OIDC signing keys (JWKS) that push tokens are checked against.",
			}),
	})
	.prefault({});

export const configSchema = z
	.strictObject({
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
		sessions: sessionsSection,
		files: filesSection,
		entitlements: entitlementsSection,
	})
	.superRefine((config, context) => {
		const { entitlements } = config;
		if (entitlements.apple_bundle_id !== undefined) {
			if (entitlements.apple_root_certificates.length === 0)
				context.addIssue({
					code: "custom",
					path: ["entitlements", "apple_root_certificates"],
					message: "required when entitlements.apple_bundle_id is set (Apple's root certificates)",
				});
			if (
				entitlements.apple_environment === "Production" &&
				entitlements.apple_app_apple_id === undefined
			)
				context.addIssue({
					code: "custom",
					path: ["entitlements", "apple_app_apple_id"],
					message: "required when entitlements.apple_environment is Production",
				});
		}
		if (entitlements.apple_api_key_file !== undefined) {
			for (const key of ["apple_bundle_id", "apple_api_key_id", "apple_api_issuer_id"] as const)
				if (entitlements[key] === undefined)
					context.addIssue({
						code: "custom",
						path: ["entitlements", key],
						message: "required when entitlements.apple_api_key_file is set",
					});
		}
		if (entitlements.google_package_name !== undefined) {
			if (entitlements.google_service_account_file === undefined)
				context.addIssue({
					code: "custom",
					path: ["entitlements", "google_service_account_file"],
					message: "required when entitlements.google_package_name is set",
				});
			if (
				entitlements.google_push_audience !== undefined &&
				entitlements.google_push_service_account === undefined
			)
				context.addIssue({
					code: "custom",
					path: ["entitlements", "google_push_service_account"],
					message: "required when entitlements.google_push_audience is set",
				});
		}
		const { sessions } = config;
		if (
			sessions.enabled &&
			sessions.format === "resty" &&
			sessions.secret === undefined &&
			!config.dev
		) {
			context.addIssue({
				code: "custom",
				path: ["sessions", "secret"],
				message:
					'required when sessions.format is "resty" (it must equal the Flask app\'s secret_key)',
			});
		}
	});

export type Config = z.output<typeof configSchema>;
