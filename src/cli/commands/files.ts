import { pipeline } from "node:stream/promises";
import type { Config } from "#config";
import { systemClock } from "#lib/clock";
import { createFileService, type FileService, SWEEP_BATCH } from "#modules/files";
import { migrateToLatest, openStorage } from "../../storage/index.ts";
import { SqlFileRecords } from "../../storage/kysely/file-records.ts";
import type { Command } from "../command.ts";

/** Opens the configured storage for one command, as `serve` would see it, and always closes it. */
async function withFiles<T>(
	config: Config,
	work: (service: FileService, records: SqlFileRecords) => Promise<T>,
): Promise<T> {
	const storage = await openStorage(config, systemClock);
	try {
		await migrateToLatest(storage.sql);
		const records = new SqlFileRecords(storage.sql.db);
		return await work(
			createFileService(config.files, records, storage.blobs, systemClock),
			records,
		);
	} finally {
		await storage.close();
	}
}

export const filesStatsCommand: Command = {
	name: "files stats",
	summary: "Print how many files are stored and their total size.",
	details: ["", "Counts expired files the sweeper has not deleted yet."],
	run: (config) =>
		withFiles(config, async (_service, records) => {
			const { files, bytes } = await records.totals();
			process.stdout.write(`files: ${files}\nbytes: ${bytes}\n`);
			return 0;
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
