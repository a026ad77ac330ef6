/**
 * The storage engines a config names, and their generic ports: SQL (SQLite file | PostgreSQL), key-value
 * (embedded | Redis), blobs (filesystem | SQL), stored secrets and job leases, plus the maintenance the
 * chosen engines need (expired embedded keys, blob leftovers, SQLite backups). Nothing here knows a module:
 * modules build their own adapters on these (src/modules/<name>/storage/).
 */
import { join, resolve } from "node:path";
import type { Logger } from "pino";
import type { FoundationConfig } from "#config";
import type { Clock } from "#lib/clock";
import type { BlobStore } from "./blob-store.ts";
import { EmbeddedKeyValueStore } from "./embedded/embedded-key-value-store.ts";
import { FilesystemBlobStore } from "./filesystem/filesystem-blob-store.ts";
import type { KeyValueStore } from "./key-value-store.ts";
import { createPostgresDatabaseIfMissing } from "./kysely/create-database.ts";
import { openSqlDatabase, type SqlDatabase } from "./kysely/db.ts";
import { JobLeases } from "./kysely/job-leases.ts";
import { SqlBlobStore } from "./kysely/sql-blob-store.ts";
import { type SecretStore, SqlSecretStore } from "./kysely/stored-secrets.ts";
import { RedisKeyValueStore } from "./redis/redis-key-value-store.ts";
import { backUpSqlite } from "./sqlite-backups.ts";

export {
	type BlobRange,
	type BlobStore,
	BlobTooLargeError,
	type FileBackedBlobStore,
	isFileBacked,
	type OpenedBlob,
	type StoredBlob,
} from "./blob-store.ts";
export { asUnavailableWhenUnreachable, isStoreUnreachable } from "./faults.ts";
export { type KeyValueStore, WrongKindError } from "./key-value-store.ts";
export { openSqlDatabase, type SqlDatabase, type SqlDialectName } from "./kysely/db.ts";
export { type JobLeaseClaim, JobLeases } from "./kysely/job-leases.ts";
export {
	FOUNDATION_MIGRATIONS_DIR,
	MigrationNumberTakenError,
	migrateToLatest,
	migrationFiles,
} from "./kysely/migrate.ts";
export { type SecretStore, SqlSecretStore } from "./kysely/stored-secrets.ts";
export type { FoundationTables } from "./kysely/tables.ts";
export { closeRedis, connectRedis, isReplyError, unavailable } from "./redis/connect-redis.ts";

/** A periodic task an engine needs; the service runs each under a cluster-wide job lease. */
export interface MaintenanceTask {
	/** Stable: it keys the lease row. */
	readonly name: string;
	readonly intervalMs: number;
	run(context: { readonly signal: AbortSignal; readonly nowMs: number }): Promise<void>;
}

export interface Storage {
	readonly sql: SqlDatabase;
	readonly kv: KeyValueStore;
	readonly blobs: BlobStore;
	readonly secrets: SecretStore;
	readonly leases: JobLeases;
	/**
	 * The Redis server `kv.url` names, for a module that needs a connection of its own (keys other
	 * programs read under their own names); undefined on the embedded store.
	 */
	readonly redisUrl: string | undefined;
	readonly maintenance: readonly MaintenanceTask[];
	close(): Promise<void>;
}

const SWEEP_BATCH = 1_000;
const SQLITE_FILE_NAME = "tollgate.db";
const ABANDONED_WRITE_GRACE_MS = 60 * 60 * 1_000;

/** The configured SQL database; a logger, when given, hears of every connection the server drops. */
export function sqlDatabaseFor(config: FoundationConfig, logger?: Logger): SqlDatabase {
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

/**
 * Before the database is opened: with database.create_if_missing, a PostgreSQL database that does not
 * exist yet is created.
 */
export async function prepareDatabase(config: FoundationConfig, logger?: Logger): Promise<void> {
	if (config.database.url === undefined || !config.database.create_if_missing) return;
	if (await createPostgresDatabaseIfMissing(config.database.url))
		logger?.info(
			{ database: describeDatabase(config) },
			"database created (database.create_if_missing)",
		);
}

/** Where the SQL database is, for people: the SQLite file, or PostgreSQL's host, port and database (never the credentials). */
export function describeDatabase(config: FoundationConfig): string {
	if (config.database.url === undefined)
		return `SQLite at ${join(resolve(config.data_dir), SQLITE_FILE_NAME)}`;
	const url = new URL(config.database.url);
	return `PostgreSQL ${url.hostname}:${url.port || "5432"}/${decodeURIComponent(url.pathname.slice(1))}`;
}

/** The key-value store and the blob store, for people. */
export function describeStores(config: FoundationConfig): { kv: string; blobs: string } {
	const dataDir = resolve(config.data_dir);
	const kv =
		config.kv.url === undefined
			? `embedded at ${join(dataDir, "kv.db")}`
			: (() => {
					const url = new URL(config.kv.url);
					return `Redis ${url.hostname}:${url.port || "6379"}`;
				})();
	const blobs =
		config.blobs.backend === "database"
			? "in the SQL database"
			: `files under ${join(dataDir, "blobs")}`;
	return { kv, blobs };
}

export async function openStorage(
	config: FoundationConfig,
	clock: Clock,
	logger?: Logger,
): Promise<Storage> {
	await prepareDatabase(config, logger);
	const dataDir = resolve(config.data_dir);
	const sql = sqlDatabaseFor(config, logger);
	const maintenance: MaintenanceTask[] = [];

	let kv: KeyValueStore;
	if (config.kv.url === undefined) {
		const embedded = new EmbeddedKeyValueStore(join(dataDir, "kv.db"), clock);
		maintenance.push({
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
	maintenance.push({
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
		maintenance.push({
			name: "sqlite.backup",
			intervalMs: config.database.sqlite_backup_interval_hours * 3_600_000,
			run: async ({ nowMs }) => {
				await backUpSqlite(backupTo, join(dataDir, "backups"), SQLITE_FILE_NAME, nowMs);
			},
		});
	}

	return {
		sql,
		kv,
		blobs,
		secrets: new SqlSecretStore(sql.db),
		leases: new JobLeases(sql.db),
		redisUrl: config.kv.url,
		maintenance,
		close: async () => {
			await Promise.allSettled([kv.close(), sql.close()]);
		},
	};
}
