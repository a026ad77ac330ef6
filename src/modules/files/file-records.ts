/**
 * The files module's storage port: one record per stored file, its bytes in the blob store under `blobKey`.
 * Implemented once for SQLite and PostgreSQL (src/storage/kysely/file-records.ts).
 */
export interface FileRecord {
	readonly id: string;
	readonly blobKey: string;
	readonly sizeBytes: number;
	readonly uploadedAtMs: number;
	readonly expiresAtMs: number;
}

export interface FileRecords {
	/**
	 * Records an upload. A second upload of the same id keeps the first blob and never shortens the expiry
	 * (`expires = max(old, new)`); atomic, so of concurrent identical uploads exactly one blob is kept.
	 * Returns the record as stored: when its `blobKey` is not the one given, the caller's blob is redundant.
	 */
	recordUpload(record: FileRecord): Promise<FileRecord>;

	/** Records an upload under an id that must be new; false (and nothing written) when it is taken. */
	insertNew(record: FileRecord): Promise<boolean>;

	find(id: string): Promise<FileRecord | null>;

	/** Sets the expiry to max(current, `expiresAtMs`) for a record not yet expired at `nowMs`; null otherwise. */
	extend(id: string, expiresAtMs: number, nowMs: number): Promise<FileRecord | null>;

	/** Removes up to `limit` records expired at `nowMs` and returns them (their blobs are the caller's to delete). */
	takeExpired(nowMs: number, limit: number): Promise<FileRecord[]>;

	/** Count and total bytes of the stored files (for the gauges). */
	totals(): Promise<{ files: number; bytes: number }>;
}
