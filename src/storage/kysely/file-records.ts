/** The files module's records in SQL; one implementation for SQLite and PostgreSQL. */
import { type Kysely, sql } from "kysely";
import type { FileRecord, FileRecords } from "#modules/files";
import type { FoundationTables } from "./tables.ts";

interface FilesTable {
	id: string;
	blob_key: string;
	size_bytes: number;
	uploaded_at_ms: number;
	expires_at_ms: number;
}

type FilesTables = FoundationTables & { files: FilesTable };

function recordOf(row: FilesTable): FileRecord {
	return {
		id: row.id,
		blobKey: row.blob_key,
		sizeBytes: row.size_bytes,
		uploadedAtMs: row.uploaded_at_ms,
		expiresAtMs: row.expires_at_ms,
	};
}

export class SqlFileRecords implements FileRecords {
	readonly #db: Kysely<FilesTables>;

	constructor(db: Kysely<FoundationTables>) {
		this.#db = db.withTables<{ files: FilesTable }>();
	}

	async recordUpload(record: FileRecord): Promise<FileRecord> {
		const row = await this.#db
			.insertInto("files")
			.values({
				id: record.id,
				blob_key: record.blobKey,
				size_bytes: record.sizeBytes,
				uploaded_at_ms: record.uploadedAtMs,
				expires_at_ms: record.expiresAtMs,
			})
			// One statement, so concurrent identical uploads agree on one blob and the expiry only grows.
			.onConflict((conflict) =>
				conflict.column("id").doUpdateSet({
					uploaded_at_ms: sql`excluded.uploaded_at_ms`,
					expires_at_ms: sql`CASE WHEN excluded.expires_at_ms > files.expires_at_ms THEN excluded.expires_at_ms ELSE files.expires_at_ms END`,
				}),
			)
			.returningAll()
			.executeTakeFirstOrThrow();
		return recordOf(row);
	}

	async insertNew(record: FileRecord): Promise<boolean> {
		const result = await this.#db
			.insertInto("files")
			.values({
				id: record.id,
				blob_key: record.blobKey,
				size_bytes: record.sizeBytes,
				uploaded_at_ms: record.uploadedAtMs,
				expires_at_ms: record.expiresAtMs,
			})
			.onConflict((conflict) => conflict.column("id").doNothing())
			.executeTakeFirst();
		return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
	}

	async find(id: string): Promise<FileRecord | null> {
		const row = await this.#db
			.selectFrom("files")
			.selectAll()
			.where("id", "=", id)
			.executeTakeFirst();
		return row === undefined ? null : recordOf(row);
	}

	async extend(id: string, expiresAtMs: number, nowMs: number): Promise<FileRecord | null> {
		const row = await this.#db
			.updateTable("files")
			.set({
				expires_at_ms: sql`CASE WHEN ${expiresAtMs} > expires_at_ms THEN ${expiresAtMs} ELSE expires_at_ms END`,
			})
			.where("id", "=", id)
			.where("expires_at_ms", ">", nowMs)
			.returningAll()
			.executeTakeFirst();
		return row === undefined ? null : recordOf(row);
	}

	async takeExpired(nowMs: number, limit: number): Promise<FileRecord[]> {
		const rows = await this.#db
			.deleteFrom("files")
			.where(
				"id",
				"in",
				this.#db
					.selectFrom("files")
					.select("id")
					.where("expires_at_ms", "<=", nowMs)
					.orderBy("expires_at_ms")
					.limit(limit),
			)
			.returningAll()
			.execute();
		return rows.map(recordOf);
	}

	async totals(): Promise<{ files: number; bytes: number }> {
		const row = await this.#db
			.selectFrom("files")
			.select((eb) => [
				eb.fn.countAll().as("files"),
				eb.fn.coalesce(eb.fn.sum("size_bytes"), sql`0`).as("bytes"),
			])
			.executeTakeFirstOrThrow();
		return { files: Number(row.files), bytes: Number(row.bytes) };
	}
}
