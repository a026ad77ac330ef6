/**
 * Where the chunks of an upload wait for their last one (specs/arcmanager.md §6.6): each chunk is a blob
 * of the blob store, and a row here says whose it is. Keyed by session, project, branch, path and chunk
 * number, so two users (or one user's two files of the same name) never share a chunk (§0.2 #9), and kept
 * in the database, so an upload goes on after a restart. The frontend sends the file before the fields
 * that name it: a chunk's row is written first as `pending` (its session only), then named.
 */
import type { Kysely } from "kysely";
import type { FoundationTables } from "../../storage/index.ts";

export interface UploadTarget {
	readonly sessionId: string;
	readonly projectId: number;
	readonly branch: string;
	readonly path: string;
}

export interface StoredChunk {
	readonly blobKey: string;
	readonly chunkNumber: number;
	readonly totalChunks: number;
	readonly sizeBytes: number;
}

export interface UploadChunkStore {
	/** A chunk's row before its blob is written: only its session is known yet. */
	addPending(blobKey: string, session: { id: string; hub: string }, nowMs: number): Promise<void>;
	/** The blob's size once it is written. */
	setSize(blobKey: string, sizeBytes: number): Promise<void>;
	/**
	 * Names a pending chunk. One that had this name before (a re-sent chunk) is released; its blob key is
	 * returned for the caller to delete (or the purge, should that not happen).
	 */
	name(
		blobKey: string,
		target: UploadTarget,
		chunk: { number: number; total: number },
	): Promise<string[]>;
	/** The named chunks of an upload, by number. */
	chunksOf(target: UploadTarget): Promise<StoredChunk[]>;
	/** Makes these chunks pending and stale: the upload is done with them. */
	release(blobKeys: readonly string[]): Promise<void>;
	/** Rows received before `receivedBeforeMs` (named or not) and every released one, oldest first. */
	stale(receivedBeforeMs: number, limit: number): Promise<string[]>;
	/** Deletes a row (after its blob). */
	delete(blobKey: string): Promise<void>;
}

type Int = number | string;

type ChunkTables = {
	arcs_upload_chunks: {
		blob_key: string;
		session_id: string;
		hub: string;
		project_id: Int | null;
		branch: string | null;
		path: string | null;
		chunk_number: Int | null;
		total_chunks: Int | null;
		size_bytes: Int;
		received_at_ms: Int;
	};
};

/** A chunk's name: none while pending, none once released. */
const UNNAMED = {
	project_id: null,
	branch: null,
	path: null,
	chunk_number: null,
	total_chunks: null,
} as const;

/** A released row: unnamed, and received at 0, older than any cutoff the purge uses. */
const RELEASED = { ...UNNAMED, received_at_ms: 0 } as const;

export class SqlUploadChunkStore implements UploadChunkStore {
	readonly #db: Kysely<FoundationTables & ChunkTables>;

	constructor(db: Kysely<FoundationTables>) {
		this.#db = db.withTables<ChunkTables>();
	}

	async addPending(
		blobKey: string,
		session: { id: string; hub: string },
		nowMs: number,
	): Promise<void> {
		await this.#db
			.insertInto("arcs_upload_chunks")
			.values({
				blob_key: blobKey,
				session_id: session.id,
				hub: session.hub,
				...UNNAMED,
				size_bytes: 0,
				received_at_ms: nowMs,
			})
			.execute();
	}

	async setSize(blobKey: string, sizeBytes: number): Promise<void> {
		await this.#db
			.updateTable("arcs_upload_chunks")
			.set({ size_bytes: sizeBytes })
			.where("blob_key", "=", blobKey)
			.execute();
	}

	async name(
		blobKey: string,
		target: UploadTarget,
		chunk: { number: number; total: number },
	): Promise<string[]> {
		return this.#db.transaction().execute(async (tx) => {
			const replaced = await tx
				.updateTable("arcs_upload_chunks")
				.set(RELEASED)
				.where("session_id", "=", target.sessionId)
				.where("project_id", "=", target.projectId)
				.where("branch", "=", target.branch)
				.where("path", "=", target.path)
				.where("chunk_number", "=", chunk.number)
				.returning("blob_key")
				.execute();
			await tx
				.updateTable("arcs_upload_chunks")
				.set({
					project_id: target.projectId,
					branch: target.branch,
					path: target.path,
					chunk_number: chunk.number,
					total_chunks: chunk.total,
				})
				.where("blob_key", "=", blobKey)
				.execute();
			return replaced.map((row) => row.blob_key);
		});
	}

	async chunksOf(target: UploadTarget): Promise<StoredChunk[]> {
		const rows = await this.#db
			.selectFrom("arcs_upload_chunks")
			.select(["blob_key", "chunk_number", "total_chunks", "size_bytes"])
			.where("session_id", "=", target.sessionId)
			.where("project_id", "=", target.projectId)
			.where("branch", "=", target.branch)
			.where("path", "=", target.path)
			.orderBy("chunk_number")
			.execute();
		return rows.map((row) => ({
			blobKey: row.blob_key,
			chunkNumber: Number(row.chunk_number),
			totalChunks: Number(row.total_chunks),
			sizeBytes: Number(row.size_bytes),
		}));
	}

	async release(blobKeys: readonly string[]): Promise<void> {
		if (blobKeys.length === 0) return;
		await this.#db
			.updateTable("arcs_upload_chunks")
			.set(RELEASED)
			.where("blob_key", "in", blobKeys)
			.execute();
	}

	async stale(receivedBeforeMs: number, limit: number): Promise<string[]> {
		const rows = await this.#db
			.selectFrom("arcs_upload_chunks")
			.select("blob_key")
			.where("received_at_ms", "<", receivedBeforeMs)
			.orderBy("received_at_ms")
			.limit(limit)
			.execute();
		return rows.map((row) => row.blob_key);
	}

	async delete(blobKey: string): Promise<void> {
		await this.#db.deleteFrom("arcs_upload_chunks").where("blob_key", "=", blobKey).execute();
	}
}
