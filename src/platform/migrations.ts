/** The schema every instance runs on: the foundation's migrations and every module's, in one sequence. */
import { migrateToLatest, type Storage } from "../storage/index.ts";
import { MODULE_MIGRATION_DIRS } from "./modules.ts";

/** Brings the configured database up to date (all modules', enabled or not: one schema everywhere). */
export function migrateStorage(storage: Pick<Storage, "sql">) {
	return migrateToLatest(storage.sql, MODULE_MIGRATION_DIRS);
}
