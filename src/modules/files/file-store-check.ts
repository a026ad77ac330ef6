/**
 * `tollgate files check [--repair]`: whether the records and the blob store agree. It finds blobs no record
 * points at and no pending note names (orphans: bytes nothing will ever serve or delete), records whose
 * blob is gone, pending notes older than the grace period, and the blob store's leftovers (temporary
 * files, unreferenced chunks). Repair deletes orphans and stale leftovers and removes records without bytes
 * (those files are lost either way; a record pointing at nothing only answers 404 later).
 */
import type { Clock } from "#lib/clock";
import type { BlobStore, StoredBlob } from "../../storage/index.ts";
import type { FileRecords } from "./file-records.ts";
import type { FileService } from "./file-service.ts";

const BATCH = 500;

export interface FileStoreReport {
	readonly files: number;
	readonly recordedBytes: number;
	/** Of those, the bytes small files keep in their records (in the database). */
	readonly inlineBytes: number;
	/** What the blob store holds: complete blobs, and leftovers beside them. */
	readonly blobs: number;
	readonly blobBytes: number;
	readonly leftovers: number;
	readonly leftoverBytes: number;
	readonly orphanBlobs: number;
	readonly orphanBytes: number;
	readonly recordsWithoutBlob: number;
	readonly pendingBlobs: number;
	/** Pending notes older than the grace period, or abandoned: the sweep's work not yet done. */
	readonly stalePendingBlobs: number;
}

export interface FileStoreRepairs {
	readonly abandonedBlobsSwept: number;
	readonly leftoversRemoved: number;
	readonly orphanBlobsDeleted: number;
	readonly recordsWithoutBlobRemoved: number;
}

/** Whether anything in the report needs repair (writes in progress and fresh notes do not). */
export function hasProblems(report: FileStoreReport): boolean {
	return report.orphanBlobs + report.recordsWithoutBlob + report.stalePendingBlobs > 0;
}

export class FileStoreCheck {
	readonly #records: FileRecords;
	readonly #blobs: BlobStore;
	readonly #service: FileService;
	readonly #clock: Clock;
	readonly #graceMs: number;

	constructor(options: {
		readonly records: FileRecords;
		readonly blobs: BlobStore;
		readonly service: FileService;
		readonly clock: Clock;
		/** How long an upload may take: younger pending notes and leftovers are left alone. */
		readonly graceMs: number;
	}) {
		this.#records = options.records;
		this.#blobs = options.blobs;
		this.#service = options.service;
		this.#clock = options.clock;
		this.#graceMs = options.graceMs;
	}

	/** Repairs what a crash or an older version left behind, then reports what remains. */
	async repair(): Promise<{ repairs: FileStoreRepairs; report: FileStoreReport }> {
		let abandonedBlobsSwept = 0;
		for (let swept = BATCH; swept === BATCH; abandonedBlobsSwept += swept)
			swept = await this.#service.sweepAbandonedBlobs(this.#graceMs, BATCH);
		const orphans = await this.#orphanBlobs();
		for (const blob of orphans) await this.#blobs.delete(blob.key);
		const missing = await this.#recordsWithoutBlob();
		for (const id of missing) await this.#records.remove(id);
		// Last: deleting blobs can leave leftovers of its own (chunks reclaimed later).
		let leftoversRemoved = 0;
		const writtenBeforeMs = this.#clock.nowMs() - this.#graceMs;
		for (let removed = BATCH; removed === BATCH; leftoversRemoved += removed)
			removed = await this.#blobs.removeLeftovers(writtenBeforeMs, BATCH);
		return {
			repairs: {
				abandonedBlobsSwept,
				leftoversRemoved,
				orphanBlobsDeleted: orphans.length,
				recordsWithoutBlobRemoved: missing.length,
			},
			report: await this.report(),
		};
	}

	async report(): Promise<FileStoreReport> {
		let blobs = 0;
		let blobBytes = 0;
		const orphans = await this.#orphanBlobs((blob) => {
			blobs += 1;
			blobBytes += blob.sizeBytes;
		});
		const [totals, pending, leftovers, missing] = await Promise.all([
			this.#records.totals(),
			this.#records.pendingBlobCounts(this.#clock.nowMs() - this.#graceMs),
			this.#blobs.leftovers(),
			this.#recordsWithoutBlob(),
		]);
		return {
			files: totals.files,
			recordedBytes: totals.bytes,
			inlineBytes: totals.inlineBytes,
			blobs,
			blobBytes,
			leftovers: leftovers.count,
			leftoverBytes: leftovers.bytes,
			orphanBlobs: orphans.length,
			orphanBytes: orphans.reduce((sum, blob) => sum + blob.sizeBytes, 0),
			recordsWithoutBlob: missing.length,
			pendingBlobs: pending.pending,
			stalePendingBlobs: pending.stale,
		};
	}

	/** Blobs neither a record nor a pending note names; `onBlob` sees every blob listed. */
	async #orphanBlobs(onBlob: (blob: StoredBlob) => void = () => {}): Promise<StoredBlob[]> {
		const orphans: StoredBlob[] = [];
		let batch: StoredBlob[] = [];
		const flush = async () => {
			// Recorded and pending are read in one statement: an upload that completes meanwhile moves its blob
			// from one to the other atomically, and is seen in one of them.
			const { recorded, pending } = await this.#records.findBlobKeys(batch.map((blob) => blob.key));
			for (const blob of batch)
				if (!recorded.has(blob.key) && !pending.has(blob.key)) orphans.push(blob);
			batch = [];
		};
		for await (const blob of this.#blobs.list()) {
			onBlob(blob);
			batch.push(blob);
			if (batch.length === BATCH) await flush();
		}
		if (batch.length > 0) await flush();
		return orphans;
	}

	async #recordsWithoutBlob(): Promise<string[]> {
		const missing: string[] = [];
		let afterId = "";
		for (;;) {
			const page = await this.#records.pageOfBlobFiles(afterId, BATCH);
			for (const { id, blobKey } of page)
				if (blobKey !== null && (await this.#blobs.stat(blobKey)) === null) missing.push(id);
			const last = page.at(-1);
			if (last === undefined || page.length < BATCH) return missing;
			afterId = last.id;
		}
	}
}
