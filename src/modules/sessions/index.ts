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
	],
	load: async () => (await import("./module.ts")).implementation,
});
