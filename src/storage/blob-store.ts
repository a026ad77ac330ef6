/**
 * The blob port: opaque byte strings by key, streamed in and out, never held whole in memory.
 * Implemented on the filesystem and in the SQL database; both pass test/conformance/blob-store.contract.ts.
 */
import type { Readable } from "node:stream";

export interface BlobRange {
	/** First byte, inclusive. */
	readonly start: number;
	/** Last byte, inclusive. */
	readonly end: number;
}

export interface OpenedBlob {
	/** Size of the whole blob, whatever range was asked for. */
	readonly sizeBytes: number;
	readonly stream: Readable;
}

export interface BlobStore {
	/**
	 * Streams `body` in under `key`, replacing any blob there. Atomic: readers see the old blob or the
	 * whole new one, never a part; a failed or oversized write leaves the old one (or nothing) in place.
	 * @throws BlobTooLargeError once more than `maxBytes` arrive (the rest of `body` is not read).
	 */
	put(
		key: string,
		body: AsyncIterable<Uint8Array>,
		options?: { maxBytes?: number },
	): Promise<{ sizeBytes: number }>;

	/** `null` when absent. A range must lie within the blob (callers check it against `stat`). */
	open(key: string, range?: BlobRange): Promise<OpenedBlob | null>;

	stat(key: string): Promise<{ sizeBytes: number } | null>;

	/** `true` if a blob was there. */
	delete(key: string): Promise<boolean>;

	/** Every stored blob, in no particular order (consistency checks); writes in progress are not listed. */
	list(): AsyncIterable<StoredBlob>;

	/**
	 * Bytes held that belong to no stored blob: writes in progress, what a crashed write left, and (where
	 * the store reclaims space later) deleted or replaced blobs. How many pieces, and their bytes.
	 */
	leftovers(): Promise<{ count: number; bytes: number }>;

	/** Removes up to `limit` leftovers written before `writtenBeforeMs`; returns how many. */
	removeLeftovers(writtenBeforeMs: number, limit: number): Promise<number>;
}

export interface StoredBlob {
	readonly key: string;
	readonly sizeBytes: number;
}

/**
 * A store that keeps each blob as a plain file under one root, so a front proxy can send it itself
 * (X-Accel-Redirect). Optional: callers check for it once, at wiring time, with `isFileBacked`.
 */
export interface FileBackedBlobStore extends BlobStore {
	/** Where `key`'s file lies below the root, `/`-separated, whether or not it exists yet. */
	relativePathOf(key: string): string;
}

export function isFileBacked(store: BlobStore): store is FileBackedBlobStore {
	return "relativePathOf" in store && typeof store.relativePathOf === "function";
}

export class BlobTooLargeError extends Error {
	readonly maxBytes: number;

	constructor(maxBytes: number) {
		super(`blob exceeds ${maxBytes} bytes`);
		this.name = "BlobTooLargeError";
		this.maxBytes = maxBytes;
	}
}

/** Passes `body` through, throwing BlobTooLargeError as soon as more than `maxBytes` have arrived. */
export async function* limitBytes(
	body: AsyncIterable<Uint8Array>,
	maxBytes: number | undefined,
): AsyncGenerator<Uint8Array> {
	let sizeBytes = 0;
	for await (const piece of body) {
		sizeBytes += piece.byteLength;
		if (maxBytes !== undefined && sizeBytes > maxBytes) throw new BlobTooLargeError(maxBytes);
		yield piece;
	}
}

const BLOB_KEY_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/** Keys become file names: anything outside URL-safe base64 letters would let a caller leave the blob root. */
export function assertBlobKey(key: string): void {
	if (!BLOB_KEY_PATTERN.test(key))
		throw new RangeError("a blob key is 1-128 characters of [A-Za-z0-9_-]");
}
