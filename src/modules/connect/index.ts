/**
 * Logins to upstream hubs (GitLab instances, or any OpenID Connect provider) with the tokens kept
 * server-side, encrypted: the browser holds only an opaque session cookie (specs/arcmanager.md §0–§4, the
 * backend-for-frontend the ARCmanager README envisioned). This file is the module's descriptor and stays
 * light; module.ts holds the rest.
 */
import { defineModule } from "../contract.ts";
import { connectConfigSection } from "./config.ts";
import type { ConnectService } from "./connect-service.ts";

export type { ConnectConfig } from "./config.ts";
export type { ConnectService, SignedInRequest } from "./connect-service.ts";
export type { ConnectSession } from "./connect-sessions.ts";
export type { Hub } from "./hubs.ts";
export type { UpstreamAnswer, UpstreamCall, UpstreamMethod } from "./upstream-client.ts";

declare module "../contract.ts" {
	interface ModuleServices {
		/** Sessions bound to a hub, and calls to the hub as their user (the arcs module's way out). */
		readonly connect: ConnectService;
	}
}

export const connectModule = defineModule({
	name: "connect",
	configSection: connectConfigSection,
	isEnabled: (section) => section.enabled,
	dependsOn: ["sessions"],
	migrationsDir: "src/modules/connect/migrations",
	checkConfig: (section, config) => [
		...Object.entries(section.hubs).flatMap(([name, hub]) =>
			[hub.issuer, ...(hub.api_url === undefined ? [] : [hub.api_url])]
				.filter((url) => url.startsWith("http:") && !section.allow_http_hubs)
				.map((url) => ({
					path: ["hubs", name],
					message: `${url} is plain http: hubs need https (connect.allow_http_hubs is for loopback tests)`,
				})),
		),
		...(section.prefix === section.cookie_path ||
		section.prefix.startsWith(`${section.cookie_path}/`)
			? []
			: [{ path: ["cookie_path"], message: `must be ${section.prefix} or a path above it` }]),
		...(new Set(section.token_keys.map((entry) => entry.split(":")[0])).size ===
		section.token_keys.length
			? []
			: [{ path: ["token_keys"], message: "each key id once" }]),
		...(section.enabled && !config.dev && section.public_url === undefined
			? [
					{
						path: ["public_url"],
						message:
							"required outside dev mode: the hubs send browsers back to <public_url><prefix>/auth/callback",
					},
				]
			: []),
	],
	commands: [
		{
			name: "connect keys rotate",
			summary:
				"Re-encrypt every stored upstream token under the first of connect.token_keys (after adding a new key first).",
			details: [
				"",
				"Put the new key first in connect.token_keys and keep the old ones after it until this has run",
				"(every instance must have the new list first, or they cannot read what others re-encrypted).",
				"Exits 1 when tokens sealed with a key no longer configured remain: those users log in again.",
			],
			load: async () => (await import("./cli.ts")).rotateKeys,
		},
	],
	load: async () => (await import("./module.ts")).implementation,
});
