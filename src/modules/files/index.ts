/**
 * The Session File Server: expiring, content-addressed, client-encrypted attachments
 * (specs/session-file-server.md). Routes stream to and from the blob store; a leased job sweeps expiry.
 */
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { Config } from "#config";
import type { Clock } from "#lib/clock";
import type { JobDefinition } from "../../jobs/job-runner.ts";
import { type BlobStore, isFileBacked } from "../../storage/blob-store.ts";
import { registerFileMetrics } from "./file-metrics.ts";
import type { FileRecords } from "./file-records.ts";
import { FileService } from "./file-service.ts";
import { ReleasePoller } from "./release-poller.ts";
import type { ReleaseRecords } from "./release-records.ts";
import { filesRoutes } from "./routes.ts";
import { versionRoutes } from "./version-routes.ts";

export { FILE_ID_LENGTH, fileIdOf, isFileId } from "./file-id.ts";
export { type FileRecord, type FileRecords, UploadAbandonedError } from "./file-records.ts";
export { FileService } from "./file-service.ts";
export {
	FileStoreCheck,
	type FileStoreRepairs,
	type FileStoreReport,
	hasProblems,
} from "./file-store-check.ts";
export type {
	ProjectPollState,
	Release,
	ReleaseChannel,
	ReleaseRecords,
	VersionCheck,
} from "./release-records.ts";

export const SWEEP_BATCH = 500;
/** How often the leased sweep looks for blobs that uploads or deletions abandoned. */
const ABANDONED_BLOB_SWEEP_INTERVAL_MS = 5 * 60_000;
/** The poller looks every minute for a project whose releases are older than the configured interval. */
const RELEASE_POLL_TICK_MS = 60_000;
const DAY_MS = 86_400_000;

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
		compatIdFixedBits: config.backwards_compat_ids
			? config.backwards_compat_id_fixed_bits
			: undefined,
	});
}

/** The X-Accel-Redirect URI of a blob when nginx is to send the bytes; undefined when Tollgate streams them. */
function accelRedirectFor(
	prefix: string | undefined,
	blobs: BlobStore,
	logger: Logger,
): ((blobKey: string) => string) | undefined {
	if (prefix === undefined) return undefined;
	if (!isFileBacked(blobs)) {
		logger.warn(
			"files.accel_redirect_prefix is ignored: blobs in the database are no files nginx could send",
		);
		return undefined;
	}
	return (blobKey) => `${prefix}${blobs.relativePathOf(blobKey)}`;
}

export interface FilesModuleOptions {
	readonly config: Config["files"];
	readonly records: FileRecords;
	readonly releases: ReleaseRecords;
	readonly blobs: BlobStore;
	readonly clock: Clock;
	readonly logger: Logger;
	/** Gets the files gauges and counters. */
	readonly registry: Registry;
	readonly registerJob: (job: JobDefinition) => void;
}

/**
 * Registers /file, /file/:id, /file/:id/info, /file/:id/extend, the legacy /files routes, /session_version,
 * the expiry sweeper and the release poller.
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
	options.registerJob({
		name: "files.sweep-abandoned-blobs",
		intervalMs: ABANDONED_BLOB_SWEEP_INTERVAL_MS,
		run: async ({ signal }) => {
			while (
				!signal.aborted &&
				(await service.sweepAbandonedBlobs(
					config.abandoned_upload_grace_seconds * 1_000,
					SWEEP_BATCH,
				)) === SWEEP_BATCH
			) {}
		},
	});
	const poller = new ReleasePoller({
		records: options.releases,
		clock: options.clock,
		logger: options.logger,
		apiUrl: config.github_api_url,
		owner: config.github_owner,
		token: config.github_token,
		refreshIntervalMs: config.release_poll_interval_seconds * 1_000,
	});
	options.registerJob({
		name: "files.poll-releases",
		intervalMs: RELEASE_POLL_TICK_MS,
		run: async ({ signal, nowMs }) => {
			await options.releases.pruneVersionChecks(
				nowMs - config.version_checks_retention_days * DAY_MS,
			);
			await poller.pollDue(signal);
		},
	});
	await app.register(versionRoutes, {
		releases: options.releases,
		clock: options.clock,
		githubOwner: config.github_owner,
		keepVersionChecks: config.version_checks_retention_days > 0,
	});
	await app.register(filesRoutes, {
		service,
		metrics,
		settings: {
			maxFileSizeBytes: config.max_file_size_bytes,
			maxTtlSeconds: config.max_ttl_seconds,
		},
		accelRedirectUriOf: accelRedirectFor(
			config.accel_redirect_prefix,
			options.blobs,
			options.logger,
		),
	});
}
