/**
 * Server-side sessions an nginx edge can check by itself (signature + group membership), wire-compatible
 * with flask-resty-shared-session in "resty" format. Spec: specs/resty-shared-session.md,
 * docs/edge-contract.md. This file is the module's descriptor and stays light; module.ts holds the rest.
 */
import { defineModule } from "../contract.ts";
import { sessionsConfigSection } from "./config.ts";
import type { SessionService } from "./session-service.ts";

export type { SessionsConfig } from "./config.ts";
export type { EdgeDecision, SessionView } from "./session-service.ts";
export type { SessionService };

declare module "../contract.ts" {
	interface ModuleServices {
		/** Create, read, renew and destroy sessions (connect keeps its users' logins in them). */
		readonly sessions: SessionService;
	}
}

export const sessionsModule = defineModule({
	name: "sessions",
	configSection: sessionsConfigSection,
	isEnabled: (section) => section.enabled,
	migrationsDir: "src/modules/sessions/migrations",
	checkConfig: (section, config) =>
		section.enabled && section.format === "resty" && section.secret === undefined && !config.dev
			? [
					{
						path: ["secret"],
						message:
							'required when sessions.format is "resty" (it must equal the Flask app\'s secret_key)',
					},
				]
			: [],
	commands: [
		{
			name: "sessions secret",
			summary: "Print the session signing secret the nginx edge needs (TOLLGATE_SESSIONS_SECRET).",
			details: [
				"",
				"sessions.secret when set; otherwise (v1 format) the secret generated on first start and kept in the",
				"database, created now if it does not exist yet. Treat the output as a credential.",
			],
			load: async () => (await import("./cli.ts")).printSecret,
		},
		{
			name: "sessions keys add",
			summary:
				"Make an app API key for the sessions API and print it once (only its hash is kept).",
			details: [
				"",
				"Prints `id: <id>` and `key: <key>`; apps send the key as `Authorization: Bearer <key>`. Every",
				"instance accepts it at once, beside the keys in sessions.app_api_keys. It cannot be shown again:",
				"a lost key is removed and replaced.",
			],
			options: {
				label: { value: "TEXT", description: "a note of which app holds the key (shown by list)" },
			},
			load: async () => (await import("./cli.ts")).addKey,
		},
		{
			name: "sessions keys list",
			summary: "Print the stored app API keys, one JSON object a line (ids, never the keys).",
			details: ["", "Keys configured in sessions.app_api_keys are not listed."],
			load: async () => (await import("./cli.ts")).listKeys,
		},
		{
			name: "sessions keys remove",
			summary: "Remove a stored app API key; calls with it are refused at once.",
			details: ["", "Exits 1 when no stored key has this id."],
			arguments: ["id"],
			load: async () => (await import("./cli.ts")).removeKey,
		},
	],
	load: async () => (await import("./module.ts")).implementation,
});
