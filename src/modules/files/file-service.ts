/**
 * Storing, serving, extending and expiring files (specs/session-file-server.md §3–4). Fixed against the
 * original: a re-upload never shortens the expiry, and an expired file is gone at once for get, info and
 * extend (the original's extend revived expired rows until the sweep).
 */
import { randomBytes } from "node:crypto";
import type { Clock } from "#lib/clock";
import {
	type BlobRange,
	type BlobStore,
	BlobTooLargeError,
	type OpenedBlob,
} from "../../storage/index.ts";
import { FILE_ID_LENGTH, fileIdHasher } from "./file-id.ts";
import type { FileRecord, FileRecords, StoredFile } from "./file-records.ts";

/** Where an upload's bytes went: into its record, or into the blob store under a noted key. */
type StoredContent =
	| { readonly blobKey: null; readonly inlineBytes: Uint8Array; readonly sizeBytes: number }
	| { readonly blobKey: string; readonly inlineBytes: null; readonly sizeBytes: number };

export interface FileSettings {
	readonly maxFileSizeBytes: number;
	/** Uploads up to this size keep their bytes in their record (0: none do). */
	readonly inlineMaxBytes: number;
	readonly defaultTtlSeconds: number;
	/**
	 * Old clients parse ids as numbers: then every upload gets a fresh random id below 2^53 whose leading
	 * bits are these (the original's BACKWARDS_COMPAT_IDS_FIXED_BITS), and identical bytes are not merged.
	 * Undefined: content ids.
	 */
	readonly compatIdFixedBits: string | undefined;
}

/** The original gives up after this many colliding random ids and answers 507. */
const COMPAT_ID_ATTEMPTS = 25;

export class NoFreeIdError extends Error {
	constructor() {
		super(`no free numeric file id after ${COMPAT_ID_ATTEMPTS} attempts`);
		this.name = "NoFreeIdError";
	}
}

/** `(fixed bits << (53 - k)) | random(53 - k bits)`, in decimal: what old clients can hold in a double. */
export function randomCompatId(fixedBits: string): string {
	const randomBits = 53 - fixedBits.length;
	const random = BigInt(`0x${randomBytes(8).toString("hex")}`) & ((1n << BigInt(randomBits)) - 1n);
	const prefix = fixedBits === "" ? 0n : BigInt(`0b${fixedBits}`);
	return ((prefix << BigInt(randomBits)) | random).toString();
}

export class EmptyUploadError extends Error {
	constructor() {
		super("an upload needs at least one byte");
		this.name = "EmptyUploadError";
	}
}

export class FileService {
	readonly #records: FileRecords;
	readonly #blobs: BlobStore;
	readonly #clock: Clock;
	readonly #settings: FileSettings;

	constructor(records: FileRecords, blobs: BlobStore, clock: Clock, settings: FileSettings) {
		this.#records = records;
		this.#blobs = blobs;
		this.#clock = clock;
		this.#settings = settings;
	}

	/**
	 * Stores an upload while hashing it, then records it under its content id: a small one (up to
	 * `inlineMaxBytes`) with its bytes in the record, a larger one streamed into the blob store. A blob is
	 * noted as pending before its first byte is written, and the note cleared in the transaction that
	 * records it, so a crash at any point leaves no blob that the abandoned-blob sweep does not find.
	 * @throws BlobTooLargeError past the size limit, EmptyUploadError for no bytes; nothing is kept either way.
	 */
	async upload(
		body: AsyncIterable<Uint8Array>,
		ttlSeconds: number | undefined,
	): Promise<FileRecord> {
		const { compatIdFixedBits } = this.#settings;
		if (compatIdFixedBits !== undefined)
			return this.#uploadWithCompatId(body, ttlSeconds, compatIdFixedBits);
		const hasher = fileIdHasher();
		async function* hashed(): AsyncGenerator<Uint8Array> {
			for await (const chunk of body) {
				hasher.update(chunk);
				yield chunk;
			}
		}
		let content: StoredContent;
		try {
			content = await this.#store(hashed());
		} catch (error) {
			hasher.discard();
			throw error;
		}
		const nowMs = this.#clock.nowMs();
		const stored = await this.#records.recordUpload(
			{
				id: hasher.digest(),
				...content,
				uploadedAtMs: nowMs,
				expiresAtMs: nowMs + (ttlSeconds ?? this.#settings.defaultTtlSeconds) * 1_000,
			},
			nowMs,
		);
		// The same bytes were stored before: keep one copy (ours stays noted until it is gone).
		if (content.blobKey !== null && stored.blobKey !== content.blobKey)
			await this.#deleteBlobs([content.blobKey]);
		return stored;
	}

	/**
	 * Reads an upload up to `inlineMaxBytes`: if it ends there, its bytes are kept for the record; else what
	 * was read and the rest go to the blob store.
	 * @throws BlobTooLargeError, EmptyUploadError, or what the body or the store threw.
	 */
	async #store(body: AsyncIterable<Uint8Array>): Promise<StoredContent> {
		const { inlineMaxBytes, maxFileSizeBytes } = this.#settings;
		const chunks = body[Symbol.asyncIterator]();
		const head: Uint8Array[] = [];
		let headBytes = 0;
		while (headBytes <= inlineMaxBytes) {
			const next = await chunks.next();
			if (next.done === true) {
				if (headBytes === 0) throw new EmptyUploadError();
				return { blobKey: null, inlineBytes: Buffer.concat(head, headBytes), sizeBytes: headBytes };
			}
			head.push(next.value);
			headBytes += next.value.byteLength;
			if (headBytes > maxFileSizeBytes) {
				await chunks.return?.();
				throw new BlobTooLargeError(maxFileSizeBytes);
			}
		}
		async function* headThenRest(): AsyncGenerator<Uint8Array> {
			yield* head;
			for (let next = await chunks.next(); next.done !== true; next = await chunks.next())
				yield next.value;
		}
		return { ...(await this.#storeBlob(headThenRest())), inlineBytes: null };
	}

	/**
	 * Writes a new blob under a fresh key noted as pending. An empty or failed write leaves no bytes behind,
	 * and its note is cleared.
	 * @throws BlobTooLargeError, EmptyUploadError, or what the body or the store threw.
	 */
	async #storeBlob(
		body: AsyncIterable<Uint8Array>,
	): Promise<{ blobKey: string; sizeBytes: number }> {
		const blobKey = randomBytes(24).toString("base64url");
		await this.#records.notePendingBlob(blobKey, this.#clock.nowMs());
		let sizeBytes: number;
		try {
			({ sizeBytes } = await this.#blobs.put(blobKey, body, {
				maxBytes: this.#settings.maxFileSizeBytes,
			}));
		} catch (error) {
			await this.#records.forgetPendingBlobs([blobKey]);
			throw error;
		}
		if (sizeBytes === 0) {
			await this.#deleteBlobs([blobKey]);
			throw new EmptyUploadError();
		}
		return { blobKey, sizeBytes };
	}

	/** Deletes noted blobs' bytes, then their notes: a crash between leaves the notes to the sweep. */
	async #deleteBlobs(blobKeys: readonly string[]): Promise<void> {
		for (const blobKey of blobKeys) await this.#blobs.delete(blobKey);
		await this.#records.forgetPendingBlobs(blobKeys);
	}

	/** A numeric-id upload: no hash, no merging, a new random id until one is free. */
	async #uploadWithCompatId(
		body: AsyncIterable<Uint8Array>,
		ttlSeconds: number | undefined,
		fixedBits: string,
	): Promise<FileRecord> {
		const content = await this.#store(body);
		const nowMs = this.#clock.nowMs();
		for (let attempt = 0; attempt < COMPAT_ID_ATTEMPTS; attempt += 1) {
			const upload = {
				id: randomCompatId(fixedBits),
				...content,
				uploadedAtMs: nowMs,
				expiresAtMs: nowMs + (ttlSeconds ?? this.#settings.defaultTtlSeconds) * 1_000,
			};
			if (await this.#records.insertNew(upload)) {
				const { inlineBytes: _bytes, ...record } = upload;
				return record;
			}
		}
		if (content.blobKey !== null) await this.#deleteBlobs([content.blobKey]);
		throw new NoFreeIdError();
	}

	/** The live record, or null when there is none or it has expired (even before the sweep). */
	async info(id: string): Promise<FileRecord | null> {
		return this.#liveOrNull(await this.#records.find(id));
	}

	/** The live record with its inline bytes (null for a blob-store file), or null. */
	async infoWithBytes(id: string): Promise<StoredFile | null> {
		return this.#liveOrNull(await this.#records.findWithBytes(id));
	}

	#liveOrNull<T extends FileRecord>(record: T | null): T | null {
		return record !== null && record.expiresAtMs > this.#clock.nowMs() ? record : null;
	}

	/** The bytes of a blob-store file, whole or a range of them; null if the blob went missing. */
	openBlob(blobKey: string, range?: BlobRange): Promise<OpenedBlob | null> {
		return this.#blobs.open(blobKey, range);
	}

	/** Only content ids can be extended: an old numeric id may have been reused by another file since. */
	async extend(id: string, ttlSeconds: number | undefined): Promise<FileRecord | null> {
		if (id.length < FILE_ID_LENGTH) return null;
		const nowMs = this.#clock.nowMs();
		return this.#records.extend(
			id,
			nowMs + (ttlSeconds ?? this.#settings.defaultTtlSeconds) * 1_000,
			nowMs,
		);
	}

	/**
	 * Deletes up to `batch` expired files: their records go first, in the same transaction that notes their
	 * blobs as abandoned, so a crash before the bytes are deleted leaves them to the sweep. Returns how many.
	 */
	async sweepExpired(batch: number): Promise<number> {
		const expired = await this.#records.takeExpired(this.#clock.nowMs(), batch);
		await this.#deleteBlobs(
			expired.flatMap((record) => (record.blobKey === null ? [] : [record.blobKey])),
		);
		return expired.length;
	}

	/**
	 * Deletes up to `batch` blobs no record will point at: uploads noted more than `graceMs` ago and never
	 * recorded (a crash, or a store that failed mid-upload), and deletions a crash interrupted. An upload
	 * still running when its grace ends is refused (UploadAbandonedError) rather than recorded without bytes.
	 * Returns how many.
	 */
	async sweepAbandonedBlobs(graceMs: number, batch: number): Promise<number> {
		const nowMs = this.#clock.nowMs();
		const abandoned = await this.#records.abandonPendingBlobs(nowMs - graceMs, nowMs, batch);
		// A record never points at a noted blob; checked anyway, since deleting its bytes would lose a file.
		const { recorded } = await this.#records.findBlobKeys(abandoned);
		for (const blobKey of abandoned) if (!recorded.has(blobKey)) await this.#blobs.delete(blobKey);
		await this.#records.forgetPendingBlobs(abandoned);
		return abandoned.length;
	}
}
