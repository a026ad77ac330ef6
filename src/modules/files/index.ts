/**
 * The Session File Server: expiring, content-addressed, client-encrypted attachments
 * (specs/session-file-server.md). Routes stream to and from the blob store; a leased job sweeps expiry.
 */
import type { FastifyInstance } from "fastify";
import type { Registry } from "prom-client";
import type { Config } from "#config";
import type { Clock } from "#lib/clock";
import type { JobDefinition } from "../../jobs/job-runner.ts";
import type { BlobStore } from "../../storage/blob-store.ts";
import { registerFileMetrics } from "./file-metrics.ts";
import type { FileRecords } from "./file-records.ts";
import { FileService } from "./file-service.ts";
import { filesRoutes } from "./routes.ts";

export { FILE_ID_LENGTH, fileIdOf, isFileId } from "./file-id.ts";
export type { FileRecord, FileRecords } from "./file-records.ts";
export { FileService } from "./file-service.ts";

export const SWEEP_BATCH = 500;

/** The service the routes and the operators' commands share. */
export function createFileService(
	config: Config["files"],
	records: FileRecords,
	blobs: BlobStore,
	clock: Clock,
): FileService {
	return new FileService(records, blobs, clock, {
		maxFileSizeBytes: config.max_file_size_bytes,
		defaultTtlSeconds: config.default_ttl_seconds,
	});
}

export interface FilesModuleOptions {
	readonly config: Config["files"];
	readonly records: FileRecords;
	readonly blobs: BlobStore;
	readonly clock: Clock;
	/** Gets the files gauges and counters. */
	readonly registry: Registry;
	readonly registerJob: (job: JobDefinition) => void;
}

/**
 * Registers /file, /file/:id, /file/:id/info, /file/:id/extend and the expiry sweeper.
 * @throws nothing at registration; routes answer `{"status_code": N}` with 400, 404, 413 or 500.
 */
export async function registerFiles(
	app: FastifyInstance,
	options: FilesModuleOptions,
): Promise<void> {
	const { config } = options;
	const service = createFileService(config, options.records, options.blobs, options.clock);
	const metrics = registerFileMetrics(options.registry, options.records);
	options.registerJob({
		name: "files.sweep-expired",
		intervalMs: config.sweep_interval_seconds * 1_000,
		run: async ({ signal }) => {
			let swept: number;
			do {
				swept = await service.sweepExpired(SWEEP_BATCH);
				metrics.swept.inc(swept);
			} while (!signal.aborted && swept === SWEEP_BATCH);
		},
	});
	await app.register(filesRoutes, {
		service,
		metrics,
		settings: {
			maxFileSizeBytes: config.max_file_size_bytes,
			maxTtlSeconds: config.max_ttl_seconds,
		},
	});
}
