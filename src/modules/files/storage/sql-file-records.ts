/** The files module's records (FileRecords) in SQL; one implementation for SQLite and PostgreSQL. */
import { type Kysely, sql } from "kysely";
import type { FoundationTables } from "../../../storage/index.ts";
import { type FileRecord, type FileRecords, UploadAbandonedError } from "../file-records.ts";

interface FilesTable {
	id: string;
	blob_key: string;
	size_bytes: number;
	uploaded_at_ms: number;
	expires_at_ms: number;
}

interface FilePendingBlobsTable {
	blob_key: string;
	noted_at_ms: number;
	abandoned_at_ms: number | null;
}

type FilesTables = FoundationTables & {
	files: FilesTable;
	file_pending_blobs: FilePendingBlobsTable;
};

function recordOf(row: FilesTable): FileRecord {
	return {
		id: row.id,
		blobKey: row.blob_key,
		sizeBytes: row.size_bytes,
		uploadedAtMs: row.uploaded_at_ms,
		expiresAtMs: row.expires_at_ms,
	};
}

function rowOf(record: FileRecord): FilesTable {
	return {
		id: record.id,
		blob_key: record.blobKey,
		size_bytes: record.sizeBytes,
		uploaded_at_ms: record.uploadedAtMs,
		expires_at_ms: record.expiresAtMs,
	};
}

/** Clears an upload's pending note inside `db`'s transaction; an abandoned (or missing) note is refused. */
async function claimPendingBlob(db: Kysely<FilesTables>, blobKey: string): Promise<void> {
	const claimed = await db
		.deleteFrom("file_pending_blobs")
		.where("blob_key", "=", blobKey)
		.where("abandoned_at_ms", "is", null)
		.returning("blob_key")
		.executeTakeFirst();
	if (claimed === undefined) throw new UploadAbandonedError(blobKey);
}

export class SqlFileRecords implements FileRecords {
	readonly #db: Kysely<FilesTables>;

	constructor(db: Kysely<FoundationTables>) {
		this.#db = db.withTables<{ files: FilesTable; file_pending_blobs: FilePendingBlobsTable }>();
	}

	async notePendingBlob(blobKey: string, nowMs: number): Promise<void> {
		await this.#db
			.insertInto("file_pending_blobs")
			.values({ blob_key: blobKey, noted_at_ms: nowMs, abandoned_at_ms: null })
			.execute();
	}

	recordUpload(record: FileRecord, nowMs: number): Promise<FileRecord> {
		return this.#db.transaction().execute(async (trx) => {
			await claimPendingBlob(trx, record.blobKey);
			const row = await trx
				.insertInto("files")
				.values(rowOf(record))
				// One statement, so concurrent identical uploads agree on one blob and the expiry only grows.
				.onConflict((conflict) =>
					conflict.column("id").doUpdateSet({
						uploaded_at_ms: sql`excluded.uploaded_at_ms`,
						expires_at_ms: sql`CASE WHEN excluded.expires_at_ms > files.expires_at_ms THEN excluded.expires_at_ms ELSE files.expires_at_ms END`,
					}),
				)
				.returningAll()
				.executeTakeFirstOrThrow();
			if (row.blob_key !== record.blobKey) {
				await trx
					.insertInto("file_pending_blobs")
					.values({ blob_key: record.blobKey, noted_at_ms: nowMs, abandoned_at_ms: nowMs })
					.execute();
			}
			return recordOf(row);
		});
	}

	insertNew(record: FileRecord): Promise<boolean> {
		return this.#db.transaction().execute(async (trx) => {
			const result = await trx
				.insertInto("files")
				.values(rowOf(record))
				.onConflict((conflict) => conflict.column("id").doNothing())
				.executeTakeFirst();
			if (Number(result.numInsertedOrUpdatedRows ?? 0) === 0) return false;
			await claimPendingBlob(trx, record.blobKey);
			return true;
		});
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

	takeExpired(nowMs: number, limit: number): Promise<FileRecord[]> {
		return this.#db.transaction().execute(async (trx) => {
			const rows = await trx
				.deleteFrom("files")
				.where(
					"id",
					"in",
					trx
						.selectFrom("files")
						.select("id")
						.where("expires_at_ms", "<=", nowMs)
						.orderBy("expires_at_ms")
						.limit(limit),
				)
				.returningAll()
				.execute();
			if (rows.length > 0) {
				await trx
					.insertInto("file_pending_blobs")
					.values(
						rows.map((row) => ({
							blob_key: row.blob_key,
							noted_at_ms: nowMs,
							abandoned_at_ms: nowMs,
						})),
					)
					.onConflict((conflict) => conflict.column("blob_key").doNothing())
					.execute();
			}
			return rows.map(recordOf);
		});
	}

	async abandonPendingBlobs(
		notedBeforeMs: number,
		nowMs: number,
		limit: number,
	): Promise<string[]> {
		await this.#db
			.updateTable("file_pending_blobs")
			.set({ abandoned_at_ms: nowMs })
			.where("abandoned_at_ms", "is", null)
			.where(
				"blob_key",
				"in",
				this.#db
					.selectFrom("file_pending_blobs")
					.select("blob_key")
					.where("abandoned_at_ms", "is", null)
					.where("noted_at_ms", "<", notedBeforeMs)
					.orderBy("noted_at_ms")
					.limit(limit),
			)
			.execute();
		const rows = await this.#db
			.selectFrom("file_pending_blobs")
			.select("blob_key")
			.where("abandoned_at_ms", "is not", null)
			.orderBy("abandoned_at_ms")
			.limit(limit)
			.execute();
		return rows.map((row) => row.blob_key);
	}

	async forgetPendingBlobs(blobKeys: readonly string[]): Promise<void> {
		if (blobKeys.length === 0) return;
		await this.#db.deleteFrom("file_pending_blobs").where("blob_key", "in", blobKeys).execute();
	}

	async findBlobKeys(blobKeys: readonly string[]) {
		const recorded = new Set<string>();
		const pending = new Set<string>();
		if (blobKeys.length > 0) {
			const rows = await this.#db
				.selectFrom("files")
				.select(["blob_key", sql<string>`'recorded'`.as("kind")])
				.where("blob_key", "in", blobKeys)
				.unionAll(
					this.#db
						.selectFrom("file_pending_blobs")
						.select(["blob_key", sql<string>`'pending'`.as("kind")])
						.where("blob_key", "in", blobKeys),
				)
				.execute();
			for (const row of rows) (row.kind === "recorded" ? recorded : pending).add(row.blob_key);
		}
		return { recorded, pending };
	}

	async page(afterId: string, limit: number): Promise<FileRecord[]> {
		const rows = await this.#db
			.selectFrom("files")
			.selectAll()
			.where("id", ">", afterId)
			.orderBy("id")
			.limit(limit)
			.execute();
		return rows.map(recordOf);
	}

	async remove(id: string): Promise<boolean> {
		const result = await this.#db.deleteFrom("files").where("id", "=", id).executeTakeFirst();
		return result.numDeletedRows > 0n;
	}

	async pendingBlobCounts(notedBeforeMs: number): Promise<{ pending: number; stale: number }> {
		const row = await this.#db
			.selectFrom("file_pending_blobs")
			.select((eb) => [
				eb.fn.countAll().as("pending"),
				eb.fn
					.coalesce(
						eb.fn.sum(
							sql<number>`CASE WHEN abandoned_at_ms IS NOT NULL OR noted_at_ms < ${notedBeforeMs} THEN 1 ELSE 0 END`,
						),
						sql`0`,
					)
					.as("stale"),
			])
			.executeTakeFirstOrThrow();
		return { pending: Number(row.pending), stale: Number(row.stale) };
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
