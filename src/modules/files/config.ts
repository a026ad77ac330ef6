/** The `[files]` config section: the Session file server (docs/config.md). */
import { z } from "zod";

export const filesConfigSection = z
	.strictObject({
		enabled: z
			.boolean()
			.default(true)
			.meta({ description: "Serve the Session file server routes (/file…)." }),
		max_file_size_bytes: z.number().int().positive().default(10_000_000).meta({
			description:
				"Largest upload; bigger ones get 413 (Session clients send up to 10,000,000 bytes).",
		}),
		inline_max_bytes: z.number().int().min(0).max(1_048_576).default(65_536).meta({
			description:
				"Uploads up to this size keep their bytes in their database row instead of the blob store: one read serves them, one insert stores them. 0 = every file in the blob store.",
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
		session_version: z
			.strictObject({
				enabled: z.boolean().default(true).meta({
					description:
						"Poll the Session apps' GitHub releases and serve them at /session_version. false: no poller and no request to GitHub; /session_version answers 502, as before any release is known (clients retry later), and keeps no version checks.",
				}),
			})
			.prefault({}),
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

export type FilesConfig = z.output<typeof filesConfigSection>;
