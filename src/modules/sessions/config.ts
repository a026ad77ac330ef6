/** The `[sessions]` config section: server-side sessions and the edge check (docs/config.md). */
import { z } from "zod";

export const sessionsConfigSection = z
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
		invalidation_channel: z.string().min(1).optional().meta({
			description:
				"Redis channel on which every change of a session's membership (destroy, regenerate, new groups) is published for the edge's positive cache, with a heartbeat. Default: \"<key_prefix>:invalidations\". Only with kv.url (Redis).",
		}),
		invalidation_heartbeat_ms: z.number().int().min(100).max(60_000).default(1_000).meta({
			description:
				"How often each instance publishes a heartbeat on the invalidation channel; the edge trusts its cache only while heartbeats arrive (its heartbeat_timeout_ms, 3000 by default, must be longer).",
		}),
		app_api_keys: z.array(z.string().min(16)).default([]).meta({
			description:
				"Keys apps send as `Authorization: Bearer <key>` to the sessions API (comma-separated in the environment), besides those `tollgate sessions keys add` stores (hashed) in the database. Neither: the API refuses every call.",
			secret: true,
		}),
	})
	.prefault({});

export type SessionsConfig = z.output<typeof sessionsConfigSection>;
