import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe } from "vitest";
import { systemClock } from "../../src/lib/clock.ts";
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
