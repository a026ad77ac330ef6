import { readdir } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { migrateToLatest } from "../../src/storage/index.ts";
import { MIGRATIONS_DIR } from "../../src/storage/kysely/migrate.ts";
import { sqlBackends } from "../support/sql-backends.ts";

describe("migrations", () => {
	it("have the same numbered files for SQLite and PostgreSQL", async () => {
		const sqlite = await readdir(new URL("sqlite/", MIGRATIONS_DIR));
		const postgres = await readdir(new URL("postgres/", MIGRATIONS_DIR));
		expect(sqlite.length).toBeGreaterThan(0);
		expect(postgres).toEqual(sqlite);
	});

	for (const backend of sqlBackends()) {
		it.skipIf(backend.skipReason !== null)(
			`apply on ${backend.name}, and a second run applies nothing`,
			async () => {
				const fixture = await backend.open();
				try {
					expect(await migrateToLatest(fixture.database)).toEqual({ applied: [] });
					const tables = (await fixture.database.db.introspection.getTables()).map(
						(table) => table.name,
					);
					expect(tables).toEqual(
						expect.arrayContaining(["blobs", "blob_chunks", "job_leases", "service_keys"]),
					);
				} finally {
					await fixture.cleanup();
				}
			},
		);
	}
});
