/** The files module's operator commands (described in index.ts, loaded when one runs). */
import { pipeline } from "node:stream/promises";
import { systemClock } from "#lib/clock";
import type { CommandOptions, ModuleCommandContext } from "../contract.ts";
import type { FilesConfig } from "./config.ts";
import { type FileStoreReport, hasProblems } from "./file-store-check.ts";
import { openFileStore, SWEEP_BATCH } from "./module.ts";

type Context = ModuleCommandContext<FilesConfig>;

async function fileStore(context: Context) {
	return openFileStore(context.section, await context.storage(), systemClock);
}

function reportLines(report: FileStoreReport): string {
	return [
		`files: ${report.files}`,
		`recorded_bytes: ${report.recordedBytes}`,
		`inline_bytes: ${report.inlineBytes}`,
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

export async function stats(context: Context): Promise<number> {
	const report = await (await fileStore(context)).check.report();
	process.stdout.write(
		`files: ${report.files}\nbytes: ${report.recordedBytes}\ninline_bytes: ${report.inlineBytes}\nblob_bytes: ${report.blobBytes}\nleftover_bytes: ${report.leftoverBytes}\n`,
	);
	return 0;
}

export async function check(
	context: Context,
	_args: readonly string[],
	options: CommandOptions,
): Promise<number> {
	const store = await fileStore(context);
	if (options.repair === true) {
		const { repairs, report } = await store.check.repair();
		process.stdout.write(
			`repaired: abandoned_blobs_swept=${repairs.abandonedBlobsSwept} leftovers_removed=${repairs.leftoversRemoved} orphan_blobs_deleted=${repairs.orphanBlobsDeleted} records_without_blob_removed=${repairs.recordsWithoutBlobRemoved}\n${reportLines(report)}`,
		);
		return hasProblems(report) ? 1 : 0;
	}
	const report = await store.check.report();
	process.stdout.write(reportLines(report));
	return hasProblems(report) ? 1 : 0;
}

export async function sweep(context: Context): Promise<number> {
	const { service } = await fileStore(context);
	let total = 0;
	let swept: number;
	do {
		swept = await service.sweepExpired(SWEEP_BATCH);
		total += swept;
	} while (swept === SWEEP_BATCH);
	process.stdout.write(`swept: ${total}\n`);
	return 0;
}

export async function get(context: Context, [id = ""]: readonly string[]): Promise<number> {
	const { service } = await fileStore(context);
	const stored = await service.infoWithBytes(id);
	const inlineBytes = stored?.inlineBytes ?? null;
	if (inlineBytes !== null) {
		process.stdout.write(inlineBytes);
		return 0;
	}
	const blobKey = stored?.blobKey ?? null;
	const blob = blobKey === null ? null : await service.openBlob(blobKey);
	if (blob === null) {
		process.stderr.write(`tollgate: no live file '${id}'\n`);
		return 1;
	}
	await pipeline(blob.stream, process.stdout, { end: false });
	return 0;
}
