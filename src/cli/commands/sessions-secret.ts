import { systemClock } from "#lib/clock";
import { resolveSessionsSecret } from "../../app.ts";
import type { Command } from "../command.ts";
import { createCliLogger } from "./cli-logger.ts";
import { withMigratedDatabase } from "./with-database.ts";

export const sessionsSecretCommand: Command = {
	name: "sessions secret",
	summary: "Print the session signing secret the nginx edge needs (TOLLGATE_SESSIONS_SECRET).",
	details: [
		"",
		"sessions.secret when set; otherwise (v1 format) the secret generated on first start and kept in the",
		"database, created now if it does not exist yet. Treat the output as a credential.",
	],
	run: (config) =>
		withMigratedDatabase(config, async (database) => {
			const secret = await resolveSessionsSecret(
				config,
				database.db,
				systemClock,
				createCliLogger(config),
			);
			process.stdout.write(`${secret}\n`);
			return 0;
		}),
};
