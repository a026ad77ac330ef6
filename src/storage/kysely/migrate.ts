/**
 * Numbered forward-only SQL migrations, applied with Kysely's Migrator (which serialises concurrent starts:
 * a PostgreSQL advisory lock, SQLite's write lock). The foundation's are in migrations/<dialect>/; each
 * module keeps its own in its folder, numbered in the one sequence they all share (docs/adr/0002), so the
 * order is total and a number taken twice is refused before anything runs.
 */
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { type Migration, type MigrationProvider, type MigrationResultSet, Migrator } from "kysely";
import { packageRoot } from "#lib/package-root";
import type { SqlDatabase } from "./db.ts";

const MIGRATION_FILE = /^(\d{4})_[a-z0-9_]+\.sql$/;

/** The foundation's migrations, relative to the package root. */
export const FOUNDATION_MIGRATIONS_DIR = "migrations";

export class MigrationNumberTakenError extends Error {
	constructor(number: string, paths: readonly string[]) {
		super(`migration number ${number} is taken twice: ${paths.join(", ")}`);
		this.name = "MigrationNumberTakenError";
	}
}

/** Every migration file of `dialect` below `dirs` (relative to the package root, or absolute), by name. */
export async function migrationFiles(
	dirs: readonly string[],
	dialect: SqlDatabase["dialect"],
): Promise<Map<string, string>> {
	const root = packageRoot();
	const byNumber = new Map<string, string[]>();
	const paths = new Map<string, string>();
	for (const dir of dirs) {
		const dialectDir = resolve(root, dir, dialect);
		if (!existsSync(dialectDir)) continue;
		for (const file of (await readdir(dialectDir)).sort()) {
			const number = MIGRATION_FILE.exec(file)?.[1];
			if (number === undefined) continue;
			byNumber.set(number, [...(byNumber.get(number) ?? []), join(dir, dialect, file)]);
			paths.set(file.replace(/\.sql$/, ""), join(dialectDir, file));
		}
	}
	for (const [number, taken] of byNumber)
		if (taken.length > 1) throw new MigrationNumberTakenError(number, taken);
	return new Map([...paths].sort(([a], [b]) => a.localeCompare(b)));
}

class SqlFileMigrationProvider implements MigrationProvider {
	readonly #database: SqlDatabase;
	readonly #dirs: readonly string[];

	constructor(database: SqlDatabase, dirs: readonly string[]) {
		this.#database = database;
		this.#dirs = dirs;
	}

	async getMigrations(): Promise<Record<string, Migration>> {
		const migrations: Record<string, Migration> = {};
		for (const [name, path] of await migrationFiles(this.#dirs, this.#database.dialect)) {
			const script = await readFile(path, "utf8");
			migrations[name] = { up: (executor) => this.#database.runScript(executor, script) };
		}
		return migrations;
	}
}

export interface MigrationOutcome {
	readonly applied: readonly string[];
}

/**
 * Applies every pending migration of the foundation and of `moduleDirs`; throws with the failing
 * migration's name and cause.
 */
export async function migrateToLatest(
	database: SqlDatabase,
	moduleDirs: readonly string[] = [],
): Promise<MigrationOutcome> {
	const migrator = new Migrator({
		db: database.db,
		provider: new SqlFileMigrationProvider(database, [FOUNDATION_MIGRATIONS_DIR, ...moduleDirs]),
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
