/** The `[identity]` config section: the OpenID Connect provider and its OPAQUE accounts (docs/config.md). */
import { z } from "zod";
import { absoluteUri, clientSpec } from "./clients.ts";

function isHttpUrl(text: string): boolean {
	if (!URL.canParse(text)) return false;
	const url = new URL(text);
	return (
		(url.protocol === "https:" || url.protocol === "http:") && url.search === "" && url.hash === ""
	);
}

export const identityConfigSection = z
	.strictObject({
		enabled: z.boolean().default(true).meta({
			description:
				"Serve the identity provider: accounts whose passwords the server never sees (OPAQUE) and, on them, OpenID Connect.",
		}),
		issuer: z
			.string()
			.refine(isHttpUrl, "an http(s) URL without query or fragment")
			.optional()
			.meta({
				description:
					"The provider's public base URL (what clients and set-password links use). Unset: http://<http.host>:<http.port>.",
			}),
		service_name: z.string().min(1).max(80).default("Tollgate").meta({
			description: "The name the sign-in pages show their users.",
		}),
		logo_file: z.string().min(1).optional().meta({
			description:
				"An .svg or .png file the pages show beside the service name (and as their icon). Unset: Tollgate's mark.",
		}),
		resources: z.array(absoluteUri).default([]).meta({
			description:
				"APIs clients may ask tokens for with `resource` (RFC 8707): their access tokens are JWTs (RFC 9068, RS256) with the API as audience, scope `api` and the account's roles.",
		}),
		clients: z
			.array(clientSpec)
			.refine(
				(clients) => new Set(clients.map((client) => client.client_id)).size === clients.length,
				"each client_id once",
			)
			.default([])
			.meta({
				description:
					"OAuth clients declared here (`[[identity.clients]]`), beside those `tollgate identity clients add` stores: the same on every instance, changed by a restart. Their users are asked for consent unless `first_party` is set.",
			}),
		signup: z.enum(["open", "invite", "closed"]).default("open").meta({
			description:
				"Who may create an account on the sign-up page: anyone (open), holders of an invitation from `tollgate identity invite` (invite), nobody (closed: accounts come from `tollgate identity users add`).",
		}),
		smtp_url: z
			.string()
			.regex(/^smtps?:\/\/[^/]/, "an smtp:// or smtps:// URL")
			.optional()
			.meta({
				description:
					"The SMTP server account mails (sign-up, reset, e-mail change) go through: smtp://user:password@host:587 (STARTTLS when offered) or smtps://… (TLS). Unset: they are written to <data_dir>/mail as .eml files, their links logged in dev mode.",
				secret: true,
			}),
		mail_from: z.string().min(3).max(320).optional().meta({
			description: 'The From of account mails. Unset: "<service_name>" <no-reply@<issuer host>>.',
		}),
		mail_link_minutes: z.number().int().min(5).max(10_080).default(60).meta({
			description:
				"How long the links in sign-up, password reset and e-mail change mails stay valid; each works once.",
		}),
		secrets_key: z
			.string()
			.regex(
				/^([0-9a-fA-F]{64}|[A-Za-z0-9_-]{43})$/,
				"32 bytes as 64 hex or 43 base64url characters",
			)
			.optional()
			.meta({
				description:
					"Key that seals the provider's secrets (OPAQUE server setup, signing keys) in the database: 32 bytes as hex or base64url. Set the same on every instance. Unset: derived from the service key (safe at rest only when that lives outside the database, in keys.ed25519_file; a warning says so); dev mode: a fixed dev key.",
				secret: true,
			}),
		set_password_link_hours: z.number().int().min(1).max(720).default(168).meta({
			description:
				"How long a set-password link (from `tollgate identity users add`) stays valid; it works once.",
		}),
		attempts_per_account: z.number().int().min(1).max(10_000).default(10).meta({
			description:
				"Login and set-password attempts one account (or link) may start per attempt_window_seconds, across all instances; more get 429 with Retry-After.",
		}),
		attempts_per_address: z.number().int().min(1).max(100_000).default(60).meta({
			description:
				"Login and set-password attempts one client address may start per attempt_window_seconds (set http.trust_proxy behind nginx).",
		}),
		token_requests_per_address: z.number().int().min(1).max(1_000_000).default(600).meta({
			description:
				"Token endpoint requests one client address may make per attempt_window_seconds, across all instances; more get 429 with Retry-After.",
		}),
		attempt_window_seconds: z.number().int().min(1).max(86_400).default(900).meta({
			description: "The window the attempt limits count in.",
		}),
	})
	.prefault({});

export type IdentityConfig = z.output<typeof identityConfigSection>;
