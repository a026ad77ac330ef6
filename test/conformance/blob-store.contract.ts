/** The BlobStore contract (src/storage/blob-store.ts), run unchanged against every backend. */
import { randomBytes } from "node:crypto";
import { buffer } from "node:stream/consumers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BlobStore, BlobTooLargeError } from "../../src/storage/index.ts";

export interface BlobStoreFixture {
	readonly store: BlobStore;
	cleanup(): Promise<void>;
}

async function* pieces(data: Uint8Array, pieceBytes: number): AsyncGenerator<Uint8Array> {
	for (let offset = 0; offset < data.byteLength; offset += pieceBytes) {
		yield data.subarray(offset, offset + pieceBytes);
	}
}

async function readAll(store: BlobStore, key: string, range?: { start: number; end: number }) {
	const opened = await store.open(key, range);
	return opened === null ? null : buffer(opened.stream);
}

export function describeBlobStoreContract(
	backend: string,
	open: () => Promise<BlobStoreFixture>,
): void {
	describe(`BlobStore contract on ${backend}`, () => {
		let fixture: BlobStoreFixture;
		let store: BlobStore;
		let counter = 0;
		const freshKey = () => `blob${++counter}_${randomBytes(6).toString("hex")}`;

		beforeAll(async () => {
			fixture = await open();
			store = fixture.store;
		});
		afterAll(async () => {
			await fixture.cleanup();
		});

		it("stores a multi-megabyte body streamed in small pieces and returns it byte for byte", async () => {
			const key = freshKey();
			const data = randomBytes(3 * 1024 * 1024 + 123);
			expect(await store.put(key, pieces(data, 64 * 1024 + 7))).toEqual({
				sizeBytes: data.byteLength,
			});
			const opened = await store.open(key);
			expect(opened?.sizeBytes).toBe(data.byteLength);
			expect(
				Buffer.compare(await buffer(opened?.stream ?? pieces(new Uint8Array(), 1)), data),
			).toBe(0);
			expect(await store.stat(key)).toEqual({ sizeBytes: data.byteLength });
		});

		it("stores an empty blob", async () => {
			const key = freshKey();
			expect(await store.put(key, pieces(new Uint8Array(), 1))).toEqual({ sizeBytes: 0 });
			expect((await readAll(store, key))?.byteLength).toBe(0);
		});

		it("reads byte ranges, inclusive of both ends, across chunk boundaries", async () => {
			const key = freshKey();
			const data = randomBytes(600 * 1024);
			await store.put(key, pieces(data, 100_000));
			for (const [start, end] of [
				[0, 0],
				[10, 19],
				[262_140, 262_150],
				[300_000, data.byteLength - 1],
			] as const) {
				const slice = await readAll(store, key, { start, end });
				expect(slice?.equals(data.subarray(start, end + 1))).toBe(true);
			}
			const ranged = await store.open(key, { start: 5, end: 9 });
			expect(ranged?.sizeBytes).toBe(data.byteLength);
			ranged?.stream.destroy();
		});

		it("returns null for a missing blob", async () => {
			const key = freshKey();
			expect(await store.open(key)).toBeNull();
			expect(await store.stat(key)).toBeNull();
			expect(await store.delete(key)).toBe(false);
		});

		it("replaces a blob whole", async () => {
			const key = freshKey();
			await store.put(key, pieces(Buffer.from("first version, longer"), 4));
			await store.put(key, pieces(Buffer.from("second"), 4));
			expect((await readAll(store, key))?.toString()).toBe("second");
		});

		it("refuses a body over maxBytes and leaves the old blob in place", async () => {
			const key = freshKey();
			await store.put(key, pieces(Buffer.from("kept"), 4));
			const oversized = randomBytes(300 * 1024);
			await expect(
				store.put(key, pieces(oversized, 1024), { maxBytes: 200 * 1024 }),
			).rejects.toBeInstanceOf(BlobTooLargeError);
			expect((await readAll(store, key))?.toString()).toBe("kept");
		});

		it("stops reading the body once maxBytes is passed", async () => {
			let piecesRead = 0;
			async function* endless(): AsyncGenerator<Uint8Array> {
				for (;;) {
					piecesRead += 1;
					yield new Uint8Array(1024);
				}
			}
			await expect(
				store.put(freshKey(), endless(), { maxBytes: 10 * 1024 }),
			).rejects.toBeInstanceOf(BlobTooLargeError);
			expect(piecesRead).toBe(11);
		});

		it("a body that fails mid-stream leaves nothing visible", async () => {
			const key = freshKey();
			async function* failing(): AsyncGenerator<Uint8Array> {
				yield randomBytes(300 * 1024);
				throw new Error("client went away");
			}
			await expect(store.put(key, failing())).rejects.toThrow("client went away");
			expect(await store.open(key)).toBeNull();
		});

		it("delete removes the blob", async () => {
			const key = freshKey();
			await store.put(key, pieces(Buffer.from("gone soon"), 4));
			expect(await store.delete(key)).toBe(true);
			expect(await store.open(key)).toBeNull();
		});

		it("rejects keys that could escape the store (path traversal, separators)", async () => {
			for (const key of ["../etc/passwd", "a/b", "", "x".repeat(129), "dot.dot", "back\\slash"]) {
				await expect(store.put(key, pieces(Buffer.from("x"), 1))).rejects.toBeInstanceOf(
					RangeError,
				);
				await expect(store.open(key)).rejects.toBeInstanceOf(RangeError);
			}
		});
	});
}
