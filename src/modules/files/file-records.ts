/**
 * The files module's storage port: one record per stored file, its bytes either in the record itself
 * (small files) or in the blob store under `blobKey`, and the pending blobs that make uploads and
 * deletions crash-safe (no blob is ever left without a record that points at it or a pending note that
 * names it). Implemented once for SQLite and PostgreSQL (storage/sql-file-records.ts).
 */
export interface FileRecord {
	readonly id: string;
	/** Where the bytes are in the blob store; null when they are inline in the record. */
	readonly blobKey: string | null;
	readonly sizeBytes: number;
	readonly uploadedAtMs: number;
	readonly expiresAtMs: number;
}

/** A record with its inline bytes (null for a blob-store file). */
export interface StoredFile extends FileRecord {
	readonly inlineBytes: Uint8Array | null;
}

/** The pending note of an upload's blob was taken by the abandoned-upload sweep: its bytes may be gone. */
export class UploadAbandonedError extends Error {
	constructor(blobKey: string) {
		super(`the upload of blob ${blobKey} outlived its grace period and was swept`);
		this.name = "UploadAbandonedError";
	}
}

export interface FileRecords {
	/** Notes the blob an upload is about to write, before the first byte (so a crash leaves a trace). */
	notePendingBlob(blobKey: string, nowMs: number): Promise<void>;

	/**
	 * Records an upload: with its bytes inline, or with a blob that was noted, whose note is cleared in the
	 * same transaction. A second upload of the same id keeps the first content and never shortens the expiry
	 * (`expires = max(old, new)`); atomic, so of concurrent identical uploads exactly one copy is kept.
	 * Returns the record as stored: when its `blobKey` is not the one given, the caller's blob is redundant
	 * and stays noted, abandoned, for deletion.
	 * @throws UploadAbandonedError when a blob's note is gone (nothing is recorded).
	 */
	recordUpload(upload: StoredFile, nowMs: number): Promise<FileRecord>;

	/**
	 * Records an upload under an id that must be new (clearing its blob's note); false (nothing written,
	 * the note kept) when the id is taken.
	 * @throws UploadAbandonedError when a blob's note is gone.
	 */
	insertNew(upload: StoredFile): Promise<boolean>;

	/** The record without its bytes (what /info and extend need). */
	find(id: string): Promise<FileRecord | null>;

	/** The record with its inline bytes, in one read (what a download needs). */
	findWithBytes(id: string): Promise<StoredFile | null>;

	/** Sets the expiry to max(current, `expiresAtMs`) for a record not yet expired at `nowMs`; null otherwise. */
	extend(id: string, expiresAtMs: number, nowMs: number): Promise<FileRecord | null>;

	/**
	 * Removes up to `limit` records expired at `nowMs` and returns them; in the same transaction their blobs
	 * (inline bytes go with their record) are noted as abandoned, so a crash before the caller deletes them
	 * leaves them to the sweep.
	 */
	takeExpired(nowMs: number, limit: number): Promise<FileRecord[]>;

	/**
	 * Marks up to `limit` pending blobs noted before `notedBeforeMs` as abandoned (no upload can record them
	 * from then on), and returns up to `limit` abandoned blob keys, marked now or before.
	 */
	abandonPendingBlobs(notedBeforeMs: number, nowMs: number, limit: number): Promise<string[]>;

	/** Clears the pending notes of these blobs (their bytes are gone, or a record points at them). */
	forgetPendingBlobs(blobKeys: readonly string[]): Promise<void>;

	/** Of these blob keys, which a record points at and which are pending: one snapshot, one statement. */
	findBlobKeys(
		blobKeys: readonly string[],
	): Promise<{ readonly recorded: ReadonlySet<string>; readonly pending: ReadonlySet<string> }>;

	/** Up to `limit` records kept in the blob store, in id order after `afterId` (expired or not). */
	pageOfBlobFiles(afterId: string, limit: number): Promise<FileRecord[]>;

	/** Removes a record; true if it existed. */
	remove(id: string): Promise<boolean>;

	/** How many blobs are pending, and how many of those are abandoned or were noted before `notedBeforeMs`. */
	pendingBlobCounts(notedBeforeMs: number): Promise<{ pending: number; stale: number }>;

	/** Count and total bytes of the stored files (for the gauges), and how many of those bytes are inline. */
	totals(): Promise<{ files: number; bytes: number; inlineBytes: number }>;
}
