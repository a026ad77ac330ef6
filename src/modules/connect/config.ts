/** The `[connect]` config section: login to upstream GitLab hubs (OAuth/OIDC) kept server-side (docs/config.md). */
import { z } from "zod";

const HUB_NAME = /^[a-z0-9][a-z0-9_-]{0,39}$/;
const PROXY_RULE = /^(GET|HEAD|POST|PUT|PATCH|DELETE) \/api\/v4(\/[A-Za-z0-9_.-]+)*$/;

function isOriginOnly(text: string): boolean {
	if (!URL.canParse(text)) return false;
	const url = new URL(text);
	return (url.protocol === "https:" || url.protocol === "http:") && url.origin === text;
}

function isBaseUrl(text: string): boolean {
	if (!URL.canParse(text)) return false;
	const url = new URL(text);
	return (
		(url.protocol === "https:" || url.protocol === "http:") &&
		url.search === "" &&
		url.hash === "" &&
		url.username === "" &&
		url.password === ""
	);
}

const baseUrl = z
	.string()
	.refine(isBaseUrl, "an http(s) URL without query, fragment or credentials");

/** One `[connect.hubs.<name>]` table. */
export const hubSpec = z.strictObject({
	issuer: baseUrl.meta({
		description:
			"The hub's OpenID Connect issuer (a GitLab instance's base URL, e.g. https://git.nfdi4plants.org): discovery reads <issuer>/.well-known/openid-configuration.",
	}),
	api_url: baseUrl.optional().meta({
		description: "Where its REST API lives (/api/v4/… below it). Unset: the issuer.",
	}),
	client_id: z.string().min(1).meta({ description: "The OAuth application's id at the hub." }),
	client_secret: z
		.string()
		.min(1)
		.meta({ description: "The OAuth application's secret.", secret: true }),
	scopes: z
		.array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/))
		.min(1)
		.default(["openid", "profile", "api"])
		.meta({ description: "Scopes asked for at login (GitLab's: openid profile api)." }),
	display_name: z.string().min(1).max(80).optional().meta({
		description: "The hub's name for people (default: its key).",
	}),
	kind: z.enum(["gitlab", "oidc"]).default("gitlab").meta({
		description:
			'"gitlab": personal access tokens (checked against /api/v4/user) and the /api/v4 pass-through; "oidc": login only.',
	}),
});

export const connectConfigSection = z
	.strictObject({
		enabled: z.boolean().default(false).meta({
			description:
				"Serve logins to upstream hubs (GitLab instances) with the tokens kept server-side, and the pass-through to their APIs.",
		}),
		prefix: z
			.string()
			.regex(/^(\/[A-Za-z0-9_.-]+)+$/)
			.default("/arcmanager/api/v1")
			.meta({ description: "Where the routes live (the ARCmanager frontend's API base)." }),
		cookie_path: z
			.string()
			.regex(/^(\/[A-Za-z0-9_.-]+)+$/)
			.default("/arcmanager/api")
			.meta({ description: "Path of the HttpOnly session cookie `data` (a prefix of `prefix`)." }),
		public_url: baseUrl.optional().meta({
			description:
				"Tollgate's public base URL, from which the hubs' redirect URI is built (<public_url><prefix>/auth/callback?datahub=<name>). Unset: http://<http.host>:<http.port>.",
		}),
		app_url: z.string().min(1).default("/arcmanager/app/index.html").meta({
			description:
				"Where the browser goes after login (or a failed one): an absolute URL or a path below public_url.",
		}),
		hubs: z
			.record(z.string().regex(HUB_NAME, "a lower-case name of letters, digits, _ and -"), hubSpec)
			.default({})
			.meta({
				description:
					"The upstream hubs by name, as `/auth/login?datahub=<name>` names them (`[connect.hubs.tuebingen]`).",
			}),
		token_keys: z
			.array(
				z.string().regex(/^[A-Za-z0-9_-]{1,32}:[A-Za-z0-9_-]{43}$/, "<id>:<32 bytes base64url>"),
			)
			.default([])
			.meta({
				description:
					"Keys that encrypt the stored upstream tokens (AES-256-GCM), `<id>:<32 bytes, base64url>`; the first encrypts, the others still decrypt (`tollgate connect keys rotate` re-encrypts under the first). None: dev mode uses a public key; otherwise one derived from the service key.",
				secret: true,
			}),
		cors_origins: z
			.array(z.string().refine(isOriginOnly, "an origin: scheme://host[:port]"))
			.default([])
			.meta({
				description:
					"Origins (besides Tollgate's own) whose pages may call the routes with credentials, e.g. the frontend's dev server http://localhost:5173.",
			}),
		cookie_secure: z.boolean().default(true).meta({
			description: "Mark the cookies Secure (turn off only for plain-HTTP development).",
		}),
		proxy_allow: z
			.array(z.string().regex(PROXY_RULE, '"<METHOD> /api/v4/<path prefix>"'))
			.default([
				"GET /api/v4/user",
				"GET /api/v4/projects",
				"HEAD /api/v4/projects",
				"GET /api/v4/groups",
				"GET /api/v4/broadcast_messages",
			])
			.meta({
				description:
					"What `<prefix>/proxy/<hub>/api/v4/…` passes on: a method and a path prefix (whole segments) each.",
			}),
		upstream_timeout_ms: z.number().int().min(100).max(300_000).default(15_000).meta({
			description:
				"How long an upstream call may wait for the hub's response headers (and between body chunks).",
		}),
		upstream_retries: z.number().int().min(0).max(5).default(2).meta({
			description:
				"Retries of an idempotent upstream call answered 429, 502, 503 or 504 (after Retry-After, else backing off).",
		}),
		retry_after_max_seconds: z.number().int().min(0).max(120).default(10).meta({
			description: "A longer Retry-After is not waited for: the hub's answer is passed on.",
		}),
		refresh_before_expiry_seconds: z.number().int().min(0).max(3_600).default(60).meta({
			description: "An access token this close to expiry is refreshed before it is used.",
		}),
		login_starts_per_minute: z.number().int().positive().default(30).meta({
			description: "Logins one client address may start per minute.",
		}),
		allow_http_hubs: z.boolean().default(false).meta({
			description: "Accept hubs on plain http:// (for tests and development on loopback only).",
		}),
	})
	.prefault({});

export type ConnectConfig = z.output<typeof connectConfigSection>;
export type HubConfig = z.output<typeof hubSpec>;
