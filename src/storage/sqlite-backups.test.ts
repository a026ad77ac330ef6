import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { sql } from "kysely";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openSqlDatabase } from "./kysely/db.ts";
import { backUpSqlite, backupFileName, backupsToDelete } from "./sqlite-backups.ts";

const day = (iso: string) => Date.parse(`${iso}T03:00:00Z`);

describe("SQLite backup rotation", () => {
	it("keeps every backup of the last 180 days and the first of each earlier month", () => {
		const now = day("2026-11-24");
		const names = [
			"2026-01-05",
			"2026-01-12",
			"2026-01-19",
			"2026-02-02",
			"2026-02-28",
			"2026-05-01",
			"2026-05-31",
			"2026-06-01",
			"2026-06-02",
			"2026-11-23",
			"2026-11-24",
		].map((date) => backupFileName(day(date), "tollgate.db"));
		expect(backupsToDelete([...names, "notes.txt"], now)).toEqual([
			"2026-01-12_030000_tollgate.db.bak",
			"2026-01-19_030000_tollgate.db.bak",
			"2026-02-28_030000_tollgate.db.bak",
		]);
	});

	describe("on a live database", () => {
		let dir: string;
		beforeEach(async () => {
			dir = await mkdtemp(join(tmpdir(), "tollgate-backup-"));
		});
		afterEach(async () => {
			await rm(dir, { recursive: true, force: true });
		});

		it("writes a copy that opens with the data in it, and rotates the directory", async () => {
			const database = openSqlDatabase({ kind: "sqlite", path: join(dir, "tollgate.db") });
			try {
				await sql`CREATE TABLE notes (body TEXT)`.execute(database.db);
				await sql`INSERT INTO notes VALUES ('kept')`.execute(database.db);
				const backups = join(dir, "backups");
				const { backupTo } = database;
				if (backupTo === undefined) throw new Error("SQLite databases can back up");
				await backUpSqlite(backupTo, backups, "tollgate.db", day("2026-01-10"));
				await writeFile(join(backups, backupFileName(day("2026-01-20"), "tollgate.db")), "");
				const path = await backUpSqlite(backupTo, backups, "tollgate.db", day("2026-11-24"));
				const copy = new Database(path, { readonly: true });
				expect(copy.prepare("SELECT body FROM notes").all()).toEqual([{ body: "kept" }]);
				copy.close();
				expect((await readdir(backups)).sort()).toEqual([
					"2026-01-10_030000_tollgate.db.bak",
					"2026-11-24_030000_tollgate.db.bak",
				]);
			} finally {
				await database.close();
			}
		});
	});
});
