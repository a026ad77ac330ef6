import type { Config } from "#config";
import { migrateToLatest, type SqlDatabase, sqlDatabaseFor } from "../../storage/index.ts";

/** Opens the configured database, brought up to date as `serve` would, for one command; always closes it. */
export async function withMigratedDatabase<T>(
	config: Config,
	work: (database: SqlDatabase) => Promise<T>,
): Promise<T> {
	const database = sqlDatabaseFor(config);
	try {
		await migrateToLatest(database);
		return await work(database);
	} finally {
		await database.close();
	}
}
