/** The SQL engines every SQL-backed contract runs on: a SQLite file and a fresh PostgreSQL database. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { migrateStorage } from "../../src/platform/migrations.ts";
import { openSqlDatabase, type SqlDatabase } from "../../src/storage/index.ts";
import { createTestPostgresDatabase, postgresAdminUrl } from "./engines.ts";

export interface SqlFixture {
	readonly database: SqlDatabase;
	/** The config value that reaches the same database (`database.url`), undefined for SQLite. */
	readonly url: string | undefined;
	readonly dataDir: string;
	cleanup(): Promise<void>;
}

export interface SqlBackend {
	readonly name: "sqlite" | "postgres";
	/** Why the backend cannot run here, or null. */
	readonly skipReason: string | null;
	open(): Promise<SqlFixture>;
}

export function sqlBackends(): SqlBackend[] {
	const adminUrl = postgresAdminUrl();
	return [
		{
			name: "sqlite",
			skipReason: null,
			open: async () => {
				const dataDir = await mkdtemp(join(tmpdir(), "tollgate-sql-"));
				const database = openSqlDatabase({ kind: "sqlite", path: join(dataDir, "tollgate.db") });
				await migrateStorage({ sql: database });
				return {
					database,
					url: undefined,
					dataDir,
					cleanup: async () => {
						await database.close();
						await rm(dataDir, { recursive: true, force: true });
					},
				};
			},
		},
		{
			name: "postgres",
			skipReason: adminUrl === null ? "PostgreSQL is not reachable" : null,
			open: async () => {
				const created = await createTestPostgresDatabase(adminUrl ?? "");
				const database = openSqlDatabase({ kind: "postgres", url: created.url, poolMax: 5 });
				await migrateStorage({ sql: database });
				const dataDir = await mkdtemp(join(tmpdir(), "tollgate-sql-"));
				return {
					database,
					url: created.url,
					dataDir,
					cleanup: async () => {
						await database.close();
						await created.drop();
						await rm(dataDir, { recursive: true, force: true });
					},
				};
			},
		},
	];
}
