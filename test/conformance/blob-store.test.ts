import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { systemClock } from "../../src/lib/clock.ts";
import { isFileBacked } from "../../src/storage/blob-store.ts";
import { FilesystemBlobStore } from "../../src/storage/filesystem/filesystem-blob-store.ts";
import { SqlBlobStore } from "../../src/storage/kysely/sql-blob-store.ts";
import { sqlBackends } from "../support/sql-backends.ts";
import { describeBlobStoreContract } from "./blob-store.contract.ts";

describeBlobStoreContract("filesystem", async () => {
	const dir = await mkdtemp(join(tmpdir(), "tollgate-blobs-"));
	return {
		store: new FilesystemBlobStore(dir),
		cleanup: () => rm(dir, { recursive: true, force: true }),
	};
});

describe("filesystem blobs as files a front proxy can send", () => {
	it("relativePathOf names the file put wrote, below the root; a key that would leave it throws", async () => {
		const dir = await mkdtemp(join(tmpdir(), "tollgate-blobs-"));
		try {
			const store = new FilesystemBlobStore(dir);
			expect(isFileBacked(store)).toBe(true);
			await store.put("Ab-key_1", Readable.from([Buffer.from("bytes on disk")]));
			const relativePath = store.relativePathOf("Ab-key_1");
			expect(relativePath).toBe("Ab/Ab-key_1");
			expect(await readFile(join(dir, relativePath), "utf8")).toBe("bytes on disk");
			expect(() => store.relativePathOf("../etc")).toThrow(RangeError);
		} finally {
			await rm(dir, { recursive: true, force: true });
		}
	});
});

for (const backend of sqlBackends()) {
	describe.skipIf(backend.skipReason !== null)(`SQL blobs on ${backend.name}`, () => {
		describeBlobStoreContract(`SQL (${backend.name})`, async () => {
			const fixture = await backend.open();
			return {
				store: new SqlBlobStore(fixture.database.db, systemClock),
				cleanup: fixture.cleanup,
			};
		});
	});
}
