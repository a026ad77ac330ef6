/**
 * Opens the storage a config names: SQL (SQLite file | PostgreSQL), key-value (embedded | Redis) and
 * blobs (filesystem | SQL), plus the background jobs those backends need.
 */
import { join, resolve } from "node:path";
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

export function sqlDatabaseFor(config: Config): SqlDatabase {
	return config.database.url === undefined
		? openSqlDatabase({ kind: "sqlite", path: join(resolve(config.data_dir), SQLITE_FILE_NAME) })
		: openSqlDatabase({
				kind: "postgres",
				url: config.database.url,
				poolMax: config.database.pool_max,
			});
}

export async function openStorage(config: Config, clock: Clock): Promise<Storage> {
	const dataDir = resolve(config.data_dir);
	const sql = sqlDatabaseFor(config);
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

	let blobs: BlobStore;
	if (config.blobs.backend === "database") {
		const sqlBlobs = new SqlBlobStore(sql.db, clock);
		jobs.push({
			name: "blobs.sweep-unreferenced-chunks",
			intervalMs: 5 * 60_000,
			run: async ({ signal }) => {
				while (
					!signal.aborted &&
					(await sqlBlobs.sweepUnreferencedChunks(ABANDONED_WRITE_GRACE_MS, SWEEP_BATCH)) ===
						SWEEP_BATCH
				) {}
			},
		});
		blobs = sqlBlobs;
	} else {
		const fileBlobs = new FilesystemBlobStore(join(dataDir, "blobs"));
		jobs.push({
			name: "blobs.remove-abandoned-writes",
			intervalMs: 60 * 60_000,
			run: async ({ nowMs }) => {
				await fileBlobs.removeAbandonedWrites(ABANDONED_WRITE_GRACE_MS, nowMs);
			},
		});
		blobs = fileBlobs;
	}

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
