import { migrateToLatest, sqlDatabaseFor } from "../../storage/index.ts";
import type { Command } from "../command.ts";

export const migrateCommand: Command = {
	name: "migrate",
	summary: "Apply pending database migrations and exit.",
	details: [
		"",
		"Safe to run while other instances start: migrations are serialised by a database lock.",
	],
	run: async (config) => {
		const database = sqlDatabaseFor(config);
		try {
			const { applied } = await migrateToLatest(database);
			process.stdout.write(
				applied.length === 0 ? "database is up to date\n" : `applied: ${applied.join(", ")}\n`,
			);
			return 0;
		} finally {
			await database.close();
		}
	},
};
