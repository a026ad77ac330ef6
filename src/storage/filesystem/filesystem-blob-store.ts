/**
 * Blobs, one file each, under one root: `<root>/<first two key characters>/<key>`. A write goes to a temporary
 * file in `<root>/.incoming`, is fsynced, renamed over the final name and the directory fsynced, so a
 * crash leaves either the old file or the complete new one.
 */
import { randomUUID } from "node:crypto";
import { createReadStream } from "node:fs";
import { type FileHandle, mkdir, open, opendir, rename, rm, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import {
	assertBlobKey,
	type BlobRange,
	type FileBackedBlobStore,
	limitBytes,
	type OpenedBlob,
	type StoredBlob,
} from "../blob-store.ts";

const INCOMING_DIR = ".incoming";
/** Node's 64 KiB default reads a 1 MiB file in 16 round trips to the thread pool, each a new Buffer. */
const READ_CHUNK_BYTES = 256 * 1024;
/** Blobs up to this size are read whole, in one read, rather than streamed. */
const WHOLE_READ_MAX_BYTES = 1024 * 1024;

/**
 * `size` bytes from the start of the open file. Blobs are replaced by rename, never changed in place, so the
 * open handle's file stays whole; a file truncated behind the store's back ends the read early.
 */
async function readFully(handle: FileHandle, size: number): Promise<Buffer> {
	const bytes = Buffer.allocUnsafe(size);
	let filled = 0;
	while (filled < size) {
		const { bytesRead } = await handle.read(bytes, filled, size - filled, filled);
		if (bytesRead === 0) break;
		filled += bytesRead;
	}
	return bytes.subarray(0, filled);
}

function isMissing(error: unknown): boolean {
	return error instanceof Error && "code" in error && error.code === "ENOENT";
}

async function fsyncDirectory(path: string): Promise<void> {
	const handle = await open(path, "r");
	try {
		await handle.sync();
	} finally {
		await handle.close();
	}
}

function shardOf(key: string): string {
	return key.slice(0, 2);
}

export class FilesystemBlobStore implements FileBackedBlobStore {
	readonly #root: string;

	constructor(root: string) {
		this.#root = root;
	}

	#pathOf(key: string): { dir: string; file: string } {
		assertBlobKey(key);
		const dir = join(this.#root, shardOf(key));
		return { dir, file: join(dir, key) };
	}

	relativePathOf(key: string): string {
		assertBlobKey(key);
		return `${shardOf(key)}/${key}`;
	}

	async put(
		key: string,
		body: AsyncIterable<Uint8Array>,
		options: { maxBytes?: number } = {},
	): Promise<{ sizeBytes: number }> {
		const { dir, file } = this.#pathOf(key);
		const incomingDir = join(this.#root, INCOMING_DIR);
		await mkdir(incomingDir, { recursive: true });
		const temporary = join(incomingDir, `${randomUUID()}.part`);
		const handle = await open(temporary, "wx");
		let sizeBytes = 0;
		try {
			for await (const chunk of limitBytes(body, options.maxBytes)) {
				sizeBytes += chunk.byteLength;
				await handle.write(chunk);
			}
			await handle.sync();
		} catch (error) {
			await handle.close();
			await unlink(temporary);
			throw error;
		}
		await handle.close();
		await mkdir(dir, { recursive: true });
		await rename(temporary, file);
		await fsyncDirectory(dir);
		return { sizeBytes };
	}

	async open(key: string, range?: BlobRange): Promise<OpenedBlob | null> {
		const { file } = this.#pathOf(key);
		// Opening first pins the inode: a concurrent replace or delete cannot cut the stream short.
		let handle: Awaited<ReturnType<typeof open>>;
		try {
			handle = await open(file, "r");
		} catch (error) {
			if (isMissing(error)) return null;
			throw error;
		}
		const { size } = await handle.stat().catch(async (error: unknown) => {
			await handle.close();
			throw error;
		});
		if (range === undefined && size <= WHOLE_READ_MAX_BYTES) {
			// One read and one write instead of a stream of chunks: each chunk costs a syscall and a
			// pipe round here, and a blob this small is no memory concern.
			try {
				const bytes = await readFully(handle, size);
				return { sizeBytes: size, stream: Readable.from([bytes], { objectMode: false }) };
			} finally {
				await handle.close();
			}
		}
		const stream = createReadStream("", {
			fd: handle,
			highWaterMark: READ_CHUNK_BYTES,
			...(range === undefined ? {} : { start: range.start, end: range.end }),
		});
		return { sizeBytes: size, stream };
	}

	async stat(key: string): Promise<{ sizeBytes: number } | null> {
		try {
			return { sizeBytes: (await stat(this.#pathOf(key).file)).size };
		} catch (error) {
			if (isMissing(error)) return null;
			throw error;
		}
	}

	async delete(key: string): Promise<boolean> {
		try {
			await unlink(this.#pathOf(key).file);
			return true;
		} catch (error) {
			if (isMissing(error)) return false;
			throw error;
		}
	}

	async *list(): AsyncGenerator<StoredBlob> {
		for (const shard of await this.#namesIn(this.#root)) {
			if (shard === INCOMING_DIR) continue;
			const dir = join(this.#root, shard);
			for (const key of await this.#namesIn(dir)) {
				const info = await stat(join(dir, key)).catch(() => null);
				if (info?.isFile()) yield { key, sizeBytes: info.size };
			}
		}
	}

	async leftovers(): Promise<{ count: number; bytes: number }> {
		let count = 0;
		let bytes = 0;
		for (const { size } of await this.#temporaryWrites()) {
			count += 1;
			bytes += size;
		}
		return { count, bytes };
	}

	/** A temporary file is written, fsynced and renamed by one request: an old one is a crash's leftover. */
	async removeLeftovers(writtenBeforeMs: number, limit: number): Promise<number> {
		let removed = 0;
		for (const { path, mtimeMs } of await this.#temporaryWrites()) {
			if (removed === limit) break;
			if (mtimeMs >= writtenBeforeMs) continue;
			await rm(path, { force: true });
			removed += 1;
		}
		return removed;
	}

	async #namesIn(dir: string): Promise<string[]> {
		try {
			const names: string[] = [];
			for await (const entry of await opendir(dir)) names.push(entry.name);
			return names;
		} catch (error) {
			if (isMissing(error)) return [];
			throw error;
		}
	}

	async #temporaryWrites(): Promise<{ path: string; size: number; mtimeMs: number }[]> {
		const incomingDir = join(this.#root, INCOMING_DIR);
		const writes: { path: string; size: number; mtimeMs: number }[] = [];
		for (const name of await this.#namesIn(incomingDir)) {
			const path = join(incomingDir, name);
			const info = await stat(path).catch(() => null);
			if (info !== null) writes.push({ path, size: info.size, mtimeMs: info.mtimeMs });
		}
		return writes;
	}
}
