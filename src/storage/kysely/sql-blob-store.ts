/**
 * Blobs in the SQL database (PostgreSQL in production; SQLite works too), cut into chunks so neither
 * side holds a whole blob in memory. Chunks go in under a fresh upload id first, then one short
 * statement points the `blobs` row at them: readers see the old blob or the whole new one. Chunks that
 * no row points at (a crashed write, a replaced or deleted blob) are swept after a grace period, which
 * also lets a reader that started before a replace finish its stream.
 */
import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { type Kysely, sql } from "kysely";
import type { Clock } from "#lib/clock";
import {
	assertBlobKey,
	type BlobRange,
	type BlobStore,
	limitBytes,
	type OpenedBlob,
	type StoredBlob,
} from "../blob-store.ts";
import type { FoundationTables } from "./tables.ts";

const BLOB_CHUNK_BYTES = 256 * 1024;
const LIST_PAGE = 1_000;

async function* rechunk(
	body: AsyncIterable<Uint8Array>,
	chunkBytes: number,
): AsyncGenerator<Uint8Array> {
	let pending: Uint8Array[] = [];
	let pendingBytes = 0;
	for await (const piece of body) {
		let offset = 0;
		while (offset < piece.byteLength) {
			const take = Math.min(chunkBytes - pendingBytes, piece.byteLength - offset);
			pending.push(piece.subarray(offset, offset + take));
			pendingBytes += take;
			offset += take;
			if (pendingBytes === chunkBytes) {
				yield Buffer.concat(pending);
				pending = [];
				pendingBytes = 0;
			}
		}
	}
	if (pendingBytes > 0) yield Buffer.concat(pending);
}

export class SqlBlobStore implements BlobStore {
	readonly #db: Kysely<FoundationTables>;
	readonly #clock: Clock;

	constructor(db: Kysely<FoundationTables>, clock: Clock) {
		this.#db = db;
		this.#clock = clock;
	}

	async put(
		key: string,
		body: AsyncIterable<Uint8Array>,
		options: { maxBytes?: number } = {},
	): Promise<{ sizeBytes: number }> {
		assertBlobKey(key);
		const uploadId = randomUUID();
		const createdAtMs = this.#clock.nowMs();
		let sizeBytes = 0;
		let chunkIndex = 0;
		try {
			for await (const data of rechunk(limitBytes(body, options.maxBytes), BLOB_CHUNK_BYTES)) {
				sizeBytes += data.byteLength;
				await this.#db
					.insertInto("blob_chunks")
					.values({
						upload_id: uploadId,
						chunk_index: chunkIndex,
						data,
						created_at_ms: createdAtMs,
					})
					.execute();
				chunkIndex += 1;
			}
		} catch (error) {
			await this.#db.deleteFrom("blob_chunks").where("upload_id", "=", uploadId).execute();
			throw error;
		}
		await this.#db
			.insertInto("blobs")
			.values({
				blob_key: key,
				upload_id: uploadId,
				size_bytes: sizeBytes,
				created_at_ms: createdAtMs,
			})
			.onConflict((conflict) =>
				conflict.column("blob_key").doUpdateSet({
					upload_id: uploadId,
					size_bytes: sizeBytes,
					created_at_ms: createdAtMs,
				}),
			)
			.execute();
		return { sizeBytes };
	}

	async open(key: string, range?: BlobRange): Promise<OpenedBlob | null> {
		assertBlobKey(key);
		const row = await this.#db
			.selectFrom("blobs")
			.select(["upload_id", "size_bytes"])
			.where("blob_key", "=", key)
			.executeTakeFirst();
		if (row === undefined) return null;
		const start = range?.start ?? 0;
		const end = range?.end ?? row.size_bytes - 1;
		const db = this.#db;
		const uploadId = row.upload_id;
		async function* chunks(): AsyncGenerator<Uint8Array> {
			const first = Math.floor(start / BLOB_CHUNK_BYTES);
			const last = Math.floor(end / BLOB_CHUNK_BYTES);
			for (let index = first; index <= last && end >= start; index += 1) {
				const chunk = await db
					.selectFrom("blob_chunks")
					.select("data")
					.where("upload_id", "=", uploadId)
					.where("chunk_index", "=", index)
					.executeTakeFirst();
				if (chunk === undefined)
					throw new Error(`blob ${key} lost chunk ${index} while being read`);
				const chunkStart = index * BLOB_CHUNK_BYTES;
				const from = Math.max(start - chunkStart, 0);
				const to = Math.min(end - chunkStart + 1, chunk.data.byteLength);
				yield chunk.data.subarray(from, to);
			}
		}
		return { sizeBytes: row.size_bytes, stream: Readable.from(chunks(), { objectMode: false }) };
	}

	async stat(key: string): Promise<{ sizeBytes: number } | null> {
		assertBlobKey(key);
		const row = await this.#db
			.selectFrom("blobs")
			.select("size_bytes")
			.where("blob_key", "=", key)
			.executeTakeFirst();
		return row === undefined ? null : { sizeBytes: row.size_bytes };
	}

	async delete(key: string): Promise<boolean> {
		assertBlobKey(key);
		const result = await this.#db
			.deleteFrom("blobs")
			.where("blob_key", "=", key)
			.executeTakeFirst();
		return result.numDeletedRows > 0n;
	}

	async *list(): AsyncGenerator<StoredBlob> {
		let after = "";
		for (;;) {
			const rows = await this.#db
				.selectFrom("blobs")
				.select(["blob_key", "size_bytes"])
				.where("blob_key", ">", after)
				.orderBy("blob_key")
				.limit(LIST_PAGE)
				.execute();
			for (const row of rows) yield { key: row.blob_key, sizeBytes: row.size_bytes };
			const last = rows.at(-1);
			if (last === undefined || rows.length < LIST_PAGE) return;
			after = last.blob_key;
		}
	}

	/** Chunks no blobs row points at: a write in progress, a crashed one, or a replaced or deleted blob. */
	#unreferencedChunks() {
		return this.#db
			.selectFrom("blob_chunks")
			.where(({ not, exists, selectFrom }) =>
				not(
					exists(
						selectFrom("blobs")
							.select("blob_key")
							.whereRef("blobs.upload_id", "=", "blob_chunks.upload_id"),
					),
				),
			);
	}

	async leftovers(): Promise<{ count: number; bytes: number }> {
		const row = await this.#unreferencedChunks()
			.select((eb) => [
				eb.fn.count("upload_id").distinct().as("count"),
				// length() of a BLOB (SQLite) or a bytea (PostgreSQL) is its size in bytes.
				eb.fn.coalesce(eb.fn.sum(sql<number>`length(data)`), sql`0`).as("bytes"),
			])
			.executeTakeFirstOrThrow();
		return { count: Number(row.count), bytes: Number(row.bytes) };
	}

	/**
	 * Deletes up to `limit` unreferenced chunks written before `writtenBeforeMs`; returns how many. The
	 * grace period also lets a reader that started before a replace finish its stream.
	 */
	async removeLeftovers(writtenBeforeMs: number, limit: number): Promise<number> {
		const orphans = await this.#unreferencedChunks()
			.select(["upload_id", "chunk_index"])
			.where("created_at_ms", "<", writtenBeforeMs)
			.limit(limit)
			.execute();
		let removed = 0;
		for (const uploadId of new Set(orphans.map((orphan) => orphan.upload_id))) {
			const indexes = orphans
				.filter((orphan) => orphan.upload_id === uploadId)
				.map((orphan) => orphan.chunk_index);
			const result = await this.#db
				.deleteFrom("blob_chunks")
				.where("upload_id", "=", uploadId)
				.where("chunk_index", "in", indexes)
				.executeTakeFirst();
			removed += Number(result.numDeletedRows);
		}
		return removed;
	}
}
