/**
 * Numbered forward-only SQL migrations, one file per change under migrations/<dialect>/, applied with
 * Kysely's Migrator (which serialises concurrent starts: a PostgreSQL advisory lock, SQLite's write lock).
 */
import { readdir, readFile } from "node:fs/promises";
import { type Migration, type MigrationProvider, type MigrationResultSet, Migrator } from "kysely";
import type { SqlDatabase } from "./db.ts";

export const MIGRATIONS_DIR = new URL("../../../migrations/", import.meta.url);

class SqlFileMigrationProvider implements MigrationProvider {
	readonly #database: SqlDatabase;

	constructor(database: SqlDatabase) {
		this.#database = database;
	}

	async getMigrations(): Promise<Record<string, Migration>> {
		const dir = new URL(`${this.#database.dialect}/`, MIGRATIONS_DIR);
		const files = (await readdir(dir))
			.filter((name) => /^\d{4}_[a-z0-9_]+\.sql$/.test(name))
			.sort();
		const migrations: Record<string, Migration> = {};
		for (const file of files) {
			const script = await readFile(new URL(file, dir), "utf8");
			migrations[file.replace(/\.sql$/, "")] = {
				up: (executor) => this.#database.runScript(executor, script),
			};
		}
		return migrations;
	}
}

export interface MigrationOutcome {
	readonly applied: readonly string[];
}

/** Applies every pending migration; throws with the failing migration's name and cause. */
export async function migrateToLatest(database: SqlDatabase): Promise<MigrationOutcome> {
	const migrator = new Migrator({
		db: database.db,
		provider: new SqlFileMigrationProvider(database),
	});
	const { error, results }: MigrationResultSet = await migrator.migrateToLatest();
	if (error !== undefined) {
		const failed = results?.find((result) => result.status === "Error")?.migrationName ?? "unknown";
		throw new Error(`migration ${failed} failed`, { cause: error });
	}
	return {
		applied: (results ?? [])
			.filter((result) => result.status === "Success")
			.map((result) => result.migrationName),
	};
}
