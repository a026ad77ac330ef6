import { pipeline } from "node:stream/promises";
import type { Config } from "#config";
import { systemClock } from "#lib/clock";
import {
	createFileService,
	type FileService,
	FileStoreCheck,
	type FileStoreReport,
	hasProblems,
	SWEEP_BATCH,
} from "#modules/files";
import { migrateToLatest, openStorage } from "../../storage/index.ts";
import { SqlFileRecords } from "../../storage/kysely/file-records.ts";
import type { Command } from "../command.ts";

/** Opens the configured storage for one command, as `serve` would see it, and always closes it. */
async function withFiles<T>(
	config: Config,
	work: (service: FileService, check: FileStoreCheck) => Promise<T>,
): Promise<T> {
	const storage = await openStorage(config, systemClock);
	try {
		await migrateToLatest(storage.sql);
		const records = new SqlFileRecords(storage.sql.db);
		const service = createFileService(config.files, records, storage.blobs, systemClock);
		const check = new FileStoreCheck({
			records,
			blobs: storage.blobs,
			service,
			clock: systemClock,
			graceMs: config.files.abandoned_upload_grace_seconds * 1_000,
		});
		return await work(service, check);
	} finally {
		await storage.close();
	}
}

function reportLines(report: FileStoreReport): string {
	return [
		`files: ${report.files}`,
		`recorded_bytes: ${report.recordedBytes}`,
		`blobs: ${report.blobs}`,
		`blob_bytes: ${report.blobBytes}`,
		`leftovers: ${report.leftovers}`,
		`leftover_bytes: ${report.leftoverBytes}`,
		`orphan_blobs: ${report.orphanBlobs}`,
		`orphan_bytes: ${report.orphanBytes}`,
		`records_without_blob: ${report.recordsWithoutBlob}`,
		`pending_blobs: ${report.pendingBlobs}`,
		`stale_pending_blobs: ${report.stalePendingBlobs}`,
		"",
	].join("\n");
}

export const filesStatsCommand: Command = {
	name: "files stats",
	summary: "Print how many files are stored, their total size, and the bytes the blob store holds.",
	details: [
		"",
		"files and bytes count records (expired ones the sweeper has not deleted yet included); blob_bytes",
		"and leftover_bytes are what the blob store holds on disk (or in the database).",
	],
	run: (config) =>
		withFiles(config, async (_service, check) => {
			const report = await check.report();
			process.stdout.write(
				`files: ${report.files}\nbytes: ${report.recordedBytes}\nblob_bytes: ${report.blobBytes}\nleftover_bytes: ${report.leftoverBytes}\n`,
			);
			return 0;
		}),
};

export const filesCheckCommand: Command = {
	name: "files check",
	summary: "Check that file records and stored bytes agree; --repair fixes what does not.",
	details: [
		"",
		"Reports blobs no record points at (orphans), records whose bytes are gone, pending uploads older",
		"than files.abandoned_upload_grace_seconds, and the blob store's leftovers. Exits 0 when nothing needs repair,",
		"1 when something does. --repair deletes orphans and stale leftovers and removes records without",
		"bytes, then reports again. Safe beside a running service: uploads in progress are left alone.",
	],
	options: {
		repair: { description: "delete orphans and stale leftovers, remove records without bytes" },
	},
	run: (config, _args, options) =>
		withFiles(config, async (_service, check) => {
			if (options.repair === true) {
				const { repairs, report } = await check.repair();
				process.stdout.write(
					`repaired: abandoned_blobs_swept=${repairs.abandonedBlobsSwept} leftovers_removed=${repairs.leftoversRemoved} orphan_blobs_deleted=${repairs.orphanBlobsDeleted} records_without_blob_removed=${repairs.recordsWithoutBlobRemoved}\n${reportLines(report)}`,
				);
				return hasProblems(report) ? 1 : 0;
			}
			const report = await check.report();
			process.stdout.write(reportLines(report));
			return hasProblems(report) ? 1 : 0;
		}),
};

export const filesSweepCommand: Command = {
	name: "files sweep",
	summary: "Delete every expired file now (records and bytes) and print how many.",
	details: ["", "The same work as the leased background sweeper; safe to run beside it."],
	run: (config) =>
		withFiles(config, async (service) => {
			let total = 0;
			let swept: number;
			do {
				swept = await service.sweepExpired(SWEEP_BATCH);
				total += swept;
			} while (swept === SWEEP_BATCH);
			process.stdout.write(`swept: ${total}\n`);
			return 0;
		}),
};

export const filesGetCommand: Command = {
	name: "files get",
	summary: "Write a stored file's bytes to stdout.",
	details: [
		"",
		"Exits 1 when there is no such live file. The bytes are what the client uploaded (encrypted).",
	],
	arguments: ["id"],
	run: (config, [id = ""]) =>
		withFiles(config, async (service) => {
			const record = await service.info(id);
			const blob = record === null ? null : await service.openBlob(record);
			if (blob === null) {
				process.stderr.write(`tollgate: no live file '${id}'\n`);
				return 1;
			}
			await pipeline(blob.stream, process.stdout, { end: false });
			return 0;
		}),
};
