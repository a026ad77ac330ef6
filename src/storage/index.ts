/**
 * Opens the storage a config names: SQL (SQLite file | PostgreSQL), key-value (embedded | Redis) and
 * blobs (filesystem | SQL), plus the background jobs those backends need.
 */
import { join, resolve } from "node:path";
import type { Logger } from "pino";
import type { Config } from "#config";
import type { Clock } from "#lib/clock";
import { type SessionStore, sessionDefaults } from "#modules/sessions";
import type { JobDefinition } from "../jobs/job-runner.ts";
import type { BlobStore } from "./blob-store.ts";
import { EmbeddedKeyValueStore } from "./embedded/embedded-key-value-store.ts";
import { KeyValueSessionStore } from "./embedded/key-value-session-store.ts";
import { FilesystemBlobStore } from "./filesystem/filesystem-blob-store.ts";
import type { KeyValueStore } from "./key-value-store.ts";
import { openSqlDatabase, type SqlDatabase } from "./kysely/db.ts";
import { SqlBlobStore } from "./kysely/sql-blob-store.ts";
import { RedisKeyValueStore } from "./redis/redis-key-value-store.ts";
import { RedisSessionStore } from "./redis/redis-session-store.ts";
import { backUpSqlite } from "./sqlite-backups.ts";

export {
	type BlobRange,
	type BlobStore,
	BlobTooLargeError,
	type OpenedBlob,
} from "./blob-store.ts";
export { type KeyValueStore, WrongKindError } from "./key-value-store.ts";
export { openSqlDatabase, type SqlDatabase, type SqlDialectName } from "./kysely/db.ts";
export { JobLeases } from "./kysely/job-leases.ts";
export { migrateToLatest } from "./kysely/migrate.ts";
export type { FoundationTables } from "./kysely/tables.ts";

export interface Storage {
	readonly sql: SqlDatabase;
	readonly kv: KeyValueStore;
	readonly blobs: BlobStore;
	/** Redis in the edge layout when `kv.url` is set, else over the embedded key-value store. */
	readonly sessions: SessionStore;
	/** Sweeps the chosen backends need (expired embedded keys, unreferenced blob chunks). */
	readonly jobs: readonly JobDefinition[];
	close(): Promise<void>;
}

const SWEEP_BATCH = 1_000;
const SQLITE_FILE_NAME = "tollgate.db";
const ABANDONED_WRITE_GRACE_MS = 60 * 60 * 1_000;

/** The configured SQL database; a logger, when given, hears of every connection the server drops. */
export function sqlDatabaseFor(config: Config, logger?: Logger): SqlDatabase {
	return config.database.url === undefined
		? openSqlDatabase({ kind: "sqlite", path: join(resolve(config.data_dir), SQLITE_FILE_NAME) })
		: openSqlDatabase({
				kind: "postgres",
				url: config.database.url,
				poolMax: config.database.pool_max,
				connectTimeoutMs: config.database.connect_timeout_ms,
				onConnectionLost: (error) =>
					logger?.warn({ reason: error.message }, "database connection lost; it will be replaced"),
			});
}

export async function openStorage(config: Config, clock: Clock, logger?: Logger): Promise<Storage> {
	const dataDir = resolve(config.data_dir);
	const sql = sqlDatabaseFor(config, logger);
	const jobs: JobDefinition[] = [];

	let kv: KeyValueStore;
	if (config.kv.url === undefined) {
		const embedded = new EmbeddedKeyValueStore(join(dataDir, "kv.db"), clock);
		jobs.push({
			name: "kv.sweep-expired",
			intervalMs: 60_000,
			run: async () => {
				while (embedded.sweepExpired(SWEEP_BATCH) === SWEEP_BATCH) {}
			},
		});
		kv = embedded;
	} else {
		kv = await RedisKeyValueStore.open({ url: config.kv.url, keyPrefix: config.kv.key_prefix });
	}

	const blobs: BlobStore =
		config.blobs.backend === "database"
			? new SqlBlobStore(sql.db, clock)
			: new FilesystemBlobStore(join(dataDir, "blobs"));
	jobs.push({
		// Named after what is left behind in each backend; the name keys the cluster-wide lease.
		name:
			config.blobs.backend === "database"
				? "blobs.sweep-unreferenced-chunks"
				: "blobs.remove-abandoned-writes",
		intervalMs: 5 * 60_000,
		run: async ({ signal, nowMs }) => {
			while (
				!signal.aborted &&
				(await blobs.removeLeftovers(nowMs - ABANDONED_WRITE_GRACE_MS, SWEEP_BATCH)) === SWEEP_BATCH
			) {}
		},
	});

	const { backupTo } = sql;
	if (backupTo !== undefined && config.database.sqlite_backup_interval_hours > 0) {
		jobs.push({
			name: "sqlite.backup",
			intervalMs: config.database.sqlite_backup_interval_hours * 3_600_000,
			run: async ({ nowMs }) => {
				await backUpSqlite(backupTo, join(dataDir, "backups"), SQLITE_FILE_NAME, nowMs);
			},
		});
	}

	const { keyPrefix } = sessionDefaults(config.sessions);
	// Only an enabled sessions module gets its own Redis connection (unprefixed keys: the edge reads them).
	const sessions =
		config.sessions.enabled && config.kv.url !== undefined
			? await RedisSessionStore.open(config.kv.url, keyPrefix)
			: new KeyValueSessionStore(kv, keyPrefix);

	return {
		sql,
		kv,
		blobs,
		sessions,
		jobs,
		close: async () => {
			await Promise.allSettled([sessions.close(), kv.close(), sql.close()]);
		},
	};
}
