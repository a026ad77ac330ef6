/**
 * Migrations: the foundation's and each module's, in one numbered sequence (docs/adr/0002), the same files
 * for SQLite and PostgreSQL, every name that ever shipped unchanged, and a number taken twice refused.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { migrateStorage } from "../../src/platform/migrations.ts";
import { MODULE_MIGRATION_DIRS } from "../../src/platform/modules.ts";
import { MigrationNumberTakenError, migrationFiles } from "../../src/storage/index.ts";
import { sqlBackends } from "../support/sql-backends.ts";

const ALL_DIRS = ["migrations", ...MODULE_MIGRATION_DIRS];

/** Names databases already record as applied: renaming one would make the migrator refuse to start. */
const SHIPPED = [
	"0001_foundation",
	"0002_files",
	"0003_versions",
	"0004_entitlements",
	"0005_apple_notifications",
	"0006_google_play",
	"0007_apple_catch_up",
];

describe("migrations", () => {
	it("have the same names for SQLite and PostgreSQL, each number once, every shipped name kept", async () => {
		const sqlite = [...(await migrationFiles(ALL_DIRS, "sqlite")).keys()];
		const postgres = [...(await migrationFiles(ALL_DIRS, "postgres")).keys()];
		expect(postgres).toEqual(sqlite);
		expect(sqlite).toEqual(expect.arrayContaining(SHIPPED));
		expect(sqlite.slice(0, SHIPPED.length)).toEqual(SHIPPED);
	});

	it("refuse a number two modules took, naming both files, before anything runs", async () => {
		const dir = await mkdtemp(join(tmpdir(), "tollgate-migrations-"));
		try {
			for (const module of ["one", "two"]) {
				await mkdir(join(dir, module, "sqlite"), { recursive: true });
				await writeFile(join(dir, module, "sqlite", `0042_${module}.sql`), "SELECT 1;");
			}
			await expect(migrationFiles([join(dir, "one"), join(dir, "two")], "sqlite")).rejects.toThrow(
				MigrationNumberTakenError,
			);
		} finally {
			await rm(dir, { recursive: true, force: true });
		}
	});

	for (const backend of sqlBackends()) {
		it.skipIf(backend.skipReason !== null)(
			`apply on ${backend.name}, and a second run applies nothing`,
			async () => {
				const fixture = await backend.open();
				try {
					expect(await migrateStorage({ sql: fixture.database })).toEqual({ applied: [] });
					const tables = (await fixture.database.db.introspection.getTables()).map(
						(table) => table.name,
					);
					expect(tables).toEqual(
						expect.arrayContaining(["blobs", "job_leases", "service_keys", "files", "pro_users"]),
					);
				} finally {
					await fixture.cleanup();
				}
			},
		);
	}
});
