/** The files module's records (FileRecords) in SQL; one implementation for SQLite and PostgreSQL. */
import { type Kysely, sql } from "kysely";
import type { FoundationTables, SqlDatabase } from "../../../storage/index.ts";
import {
	type FileRecord,
	type FileRecords,
	type StoredFile,
	UploadAbandonedError,
} from "../file-records.ts";

interface FilesTable {
	id: string;
	blob_key: string | null;
	inline_data: Uint8Array | null;
	size_bytes: number;
	uploaded_at_ms: number;
	expires_at_ms: number;
}

type RecordRow = Omit<FilesTable, "inline_data">;

/** Every column but the bytes: a record's inline bytes are read only by a download. */
const RECORD_COLUMNS = ["id", "blob_key", "size_bytes", "uploaded_at_ms", "expires_at_ms"] as const;

interface FilePendingBlobsTable {
	blob_key: string;
	noted_at_ms: number;
	abandoned_at_ms: number | null;
}

type FilesTables = FoundationTables & {
	files: FilesTable;
	file_pending_blobs: FilePendingBlobsTable;
};

function recordOf(row: RecordRow): FileRecord {
	return {
		id: row.id,
		blobKey: row.blob_key,
		sizeBytes: row.size_bytes,
		uploadedAtMs: row.uploaded_at_ms,
		expiresAtMs: row.expires_at_ms,
	};
}

function rowOf(upload: StoredFile): FilesTable {
	return {
		id: upload.id,
		blob_key: upload.blobKey,
		inline_data: upload.inlineBytes,
		size_bytes: upload.sizeBytes,
		uploaded_at_ms: upload.uploadedAtMs,
		expires_at_ms: upload.expiresAtMs,
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
	readonly #findRecord: (id: string) => Promise<RecordRow[]>;
	readonly #findWithBytes: (id: string) => Promise<FilesTable[]>;

	constructor(database: SqlDatabase) {
		this.#db = database.db.withTables<{
			files: FilesTable;
			file_pending_blobs: FilePendingBlobsTable;
		}>();
		// The download and /info reads, straight on the engine: they are every GET's one query.
		const byId = this.#db.selectFrom("files").where("id", "=", "");
		this.#findRecord = database.preparedRead(byId.select(RECORD_COLUMNS).compile());
		this.#findWithBytes = database.preparedRead(byId.selectAll().compile());
	}

	async notePendingBlob(blobKey: string, nowMs: number): Promise<void> {
		await this.#db
			.insertInto("file_pending_blobs")
			.values({ blob_key: blobKey, noted_at_ms: nowMs, abandoned_at_ms: null })
			.execute();
	}

	/** The upsert itself: one statement, so concurrent identical uploads agree and the expiry only grows. */
	async #upsert(db: Kysely<FilesTables>, upload: StoredFile): Promise<FileRecord> {
		const row = await db
			.insertInto("files")
			.values(rowOf(upload))
			.onConflict((conflict) =>
				conflict.column("id").doUpdateSet({
					uploaded_at_ms: sql`excluded.uploaded_at_ms`,
					expires_at_ms: sql`CASE WHEN excluded.expires_at_ms > files.expires_at_ms THEN excluded.expires_at_ms ELSE files.expires_at_ms END`,
				}),
			)
			.returning(RECORD_COLUMNS)
			.executeTakeFirstOrThrow();
		return recordOf(row);
	}

	recordUpload(upload: StoredFile, nowMs: number): Promise<FileRecord> {
		const { blobKey } = upload;
		// Inline bytes come with their record: one statement, nothing to claim or leave behind.
		if (blobKey === null) return this.#upsert(this.#db, upload);
		return this.#db.transaction().execute(async (trx) => {
			await claimPendingBlob(trx, blobKey);
			const stored = await this.#upsert(trx, upload);
			if (stored.blobKey !== blobKey) {
				await trx
					.insertInto("file_pending_blobs")
					.values({ blob_key: blobKey, noted_at_ms: nowMs, abandoned_at_ms: nowMs })
					.execute();
			}
			return stored;
		});
	}

	insertNew(upload: StoredFile): Promise<boolean> {
		return this.#db.transaction().execute(async (trx) => {
			const result = await trx
				.insertInto("files")
				.values(rowOf(upload))
				.onConflict((conflict) => conflict.column("id").doNothing())
				.executeTakeFirst();
			if (Number(result.numInsertedOrUpdatedRows ?? 0) === 0) return false;
			if (upload.blobKey !== null) await claimPendingBlob(trx, upload.blobKey);
			return true;
		});
	}

	async find(id: string): Promise<FileRecord | null> {
		const [row] = await this.#findRecord(id);
		return row === undefined ? null : recordOf(row);
	}

	async findWithBytes(id: string): Promise<StoredFile | null> {
		const [row] = await this.#findWithBytes(id);
		return row === undefined ? null : { ...recordOf(row), inlineBytes: row.inline_data };
	}

	async extend(id: string, expiresAtMs: number, nowMs: number): Promise<FileRecord | null> {
		const row = await this.#db
			.updateTable("files")
			.set({
				expires_at_ms: sql`CASE WHEN ${expiresAtMs} > expires_at_ms THEN ${expiresAtMs} ELSE expires_at_ms END`,
			})
			.where("id", "=", id)
			.where("expires_at_ms", ">", nowMs)
			.returning(RECORD_COLUMNS)
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
				.returning(RECORD_COLUMNS)
				.execute();
			const blobKeys = rows.flatMap((row) => (row.blob_key === null ? [] : [row.blob_key]));
			if (blobKeys.length > 0) {
				await trx
					.insertInto("file_pending_blobs")
					.values(
						blobKeys.map((blobKey) => ({
							blob_key: blobKey,
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
			for (const row of rows)
				if (row.blob_key !== null) (row.kind === "recorded" ? recorded : pending).add(row.blob_key);
		}
		return { recorded, pending };
	}

	async pageOfBlobFiles(afterId: string, limit: number): Promise<FileRecord[]> {
		const rows = await this.#db
			.selectFrom("files")
			.select(RECORD_COLUMNS)
			.where("blob_key", "is not", null)
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

	async totals(): Promise<{ files: number; bytes: number; inlineBytes: number }> {
		const row = await this.#db
			.selectFrom("files")
			.select((eb) => [
				eb.fn.countAll().as("files"),
				eb.fn.coalesce(eb.fn.sum("size_bytes"), sql`0`).as("bytes"),
				eb.fn
					.coalesce(
						eb.fn.sum(sql<number>`CASE WHEN inline_data IS NULL THEN 0 ELSE size_bytes END`),
						sql`0`,
					)
					.as("inline_bytes"),
			])
			.executeTakeFirstOrThrow();
		return {
			files: Number(row.files),
			bytes: Number(row.bytes),
			inlineBytes: Number(row.inline_bytes),
		};
	}
}
