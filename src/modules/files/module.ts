/**
 * The files module started: the file server's routes (directly and, for Session clients, through onion
 * requests), /session_version, and the leased jobs that sweep expiry and abandoned blobs, prune version
 * checks and (unless files.session_version.enabled = false) poll releases.
 */
import type { Logger } from "pino";
import type { Clock } from "#lib/clock";
import { type BlobStore, isFileBacked, type Storage } from "../../storage/index.ts";
import type { ModuleImplementation } from "../contract.ts";
import type { FilesConfig } from "./config.ts";
import { answerDownload, answerInfo, answerUpload } from "./file-answers.ts";
import { registerFileMetrics } from "./file-metrics.ts";
import { rawFileServerError, rawReplyOf } from "./file-server-replies.ts";
import { FileService } from "./file-service.ts";
import { FileStoreCheck } from "./file-store-check.ts";
import { ReleasePoller, registerReleasePollMetrics } from "./release-poller.ts";
import { filesRoutes } from "./routes.ts";
import { SqlFileRecords } from "./storage/sql-file-records.ts";
import { SqlReleaseRecords } from "./storage/sql-release-records.ts";
import { versionRoutes } from "./version-routes.ts";

export const SWEEP_BATCH = 500;
/** How often the leased sweep looks for blobs that uploads or deletions abandoned. */
const ABANDONED_BLOB_SWEEP_INTERVAL_MS = 5 * 60_000;
/**
 * The poller looks every minute for a project whose releases are older than the configured interval, or
 * whose back-off after a failure is over; the wait itself is stored per project, so a tick costs no request.
 */
const RELEASE_POLL_TICK_MS = 60_000;
/** Retention is counted in days: an hourly prune keeps it to within an hour. */
const VERSION_CHECK_PRUNE_INTERVAL_MS = 60 * 60_000;
const DAY_MS = 86_400_000;

/** The records, the service and the consistency check over the configured storage: routes and CLI share them. */
export function openFileStore(section: FilesConfig, storage: Storage, clock: Clock) {
	const records = new SqlFileRecords(storage.sql);
	const service = new FileService(records, storage.blobs, clock, {
		maxFileSizeBytes: section.max_file_size_bytes,
		inlineMaxBytes: section.inline_max_bytes,
		defaultTtlSeconds: section.default_ttl_seconds,
		compatIdFixedBits: section.backwards_compat_ids
			? section.backwards_compat_id_fixed_bits
			: undefined,
	});
	const check = new FileStoreCheck({
		records,
		blobs: storage.blobs,
		service,
		clock,
		graceMs: section.abandoned_upload_grace_seconds * 1_000,
	});
	return { records, service, check };
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

export const implementation: ModuleImplementation<FilesConfig> = {
	async register({ section, app, rawRoutes, storage, clock, logger, registry, registerJob }) {
		const { records, service } = openFileStore(section, storage, clock);
		const releases = new SqlReleaseRecords(storage.sql.db);
		const metrics = registerFileMetrics(registry, records);
		registerJob({
			name: "files.sweep-expired",
			intervalMs: section.sweep_interval_seconds * 1_000,
			run: async ({ signal }) => {
				let swept: number;
				do {
					swept = await service.sweepExpired(SWEEP_BATCH);
					metrics.swept.inc(swept);
				} while (!signal.aborted && swept === SWEEP_BATCH);
			},
		});
		registerJob({
			name: "files.sweep-abandoned-blobs",
			intervalMs: ABANDONED_BLOB_SWEEP_INTERVAL_MS,
			run: async ({ signal }) => {
				while (
					!signal.aborted &&
					(await service.sweepAbandonedBlobs(
						section.abandoned_upload_grace_seconds * 1_000,
						SWEEP_BATCH,
					)) === SWEEP_BATCH
				) {}
			},
		});
		registerJob({
			name: "files.prune-version-checks",
			intervalMs: VERSION_CHECK_PRUNE_INTERVAL_MS,
			run: async ({ nowMs }) => {
				await releases.pruneVersionChecks(nowMs - section.version_checks_retention_days * DAY_MS);
			},
		});
		const isSessionVersionEnabled = section.session_version.enabled;
		if (isSessionVersionEnabled) {
			const poller = new ReleasePoller({
				records: releases,
				clock,
				logger,
				metrics: registerReleasePollMetrics(registry, releases, section.github_owner),
				apiUrl: section.github_api_url,
				owner: section.github_owner,
				token: section.github_token,
				refreshIntervalMs: section.release_poll_interval_seconds * 1_000,
			});
			registerJob({
				name: "files.poll-releases",
				intervalMs: RELEASE_POLL_TICK_MS,
				run: async ({ signal }) => {
					await poller.pollDue(signal);
				},
			});
		}
		await app.register(versionRoutes, {
			releases,
			clock,
			githubOwner: section.github_owner,
			isSessionVersionEnabled,
			keepVersionChecks: section.version_checks_retention_days > 0,
		});
		const settings = {
			maxFileSizeBytes: section.max_file_size_bytes,
			maxTtlSeconds: section.max_ttl_seconds,
		};
		const accelRedirectUriOf = accelRedirectFor(
			section.accel_redirect_prefix,
			storage.blobs,
			logger,
		);
		await app.register(filesRoutes, { service, metrics, settings, accelRedirectUriOf });
		// HTTP clients' uploads and downloads skip Fastify: what it costs per request is most of a small
		// download's (bench/ files). Onion requests keep the Fastify twins above.
		const renderError = rawFileServerError;
		rawRoutes.add(
			"POST",
			"/file",
			async (request) =>
				rawReplyOf(await answerUpload(service, metrics, settings, request, request.headers)),
			{ streamsBody: true, renderError },
		);
		rawRoutes.add(
			"GET",
			"/file/:id",
			async (request, { params }) =>
				rawReplyOf(
					await answerDownload(
						service,
						metrics,
						params.id ?? "",
						request.headers.range,
						accelRedirectUriOf,
					),
				),
			{ renderError },
		);
		rawRoutes.add(
			"GET",
			"/file/:id/info",
			async (_request, { params }) => rawReplyOf(await answerInfo(service, params.id ?? "")),
			{ renderError },
		);
		return {};
	},
};
