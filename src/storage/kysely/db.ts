/**
 * One Kysely instance over SQLite (better-sqlite3, WAL) or PostgreSQL (pg pool), chosen by config alone.
 * Everything above this file writes one query for both dialects.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import SqliteDatabase from "better-sqlite3";
import {
	type CompiledQuery,
	type DatabaseConnection,
	type Dialect,
	type Driver,
	Kysely,
	PostgresDialect,
	SqliteDialect,
	sql,
} from "kysely";
import pg from "pg";
import { asUnavailableWhenUnreachable, reportingUnreachable } from "../faults.ts";
import type { FoundationTables } from "./tables.ts";

export type SqlDialectName = "sqlite" | "postgres";

export interface SqlDatabase {
	readonly dialect: SqlDialectName;
	readonly db: Kysely<FoundationTables>;
	/** Runs a multi-statement SQL script (a migration) on the given connection or transaction. */
	runScript(executor: Kysely<unknown>, script: string): Promise<void>;
	ping(): Promise<void>;
	/**
	 * A read compiled once by Kysely and run straight on the engine each time, skipping Kysely's pipeline
	 * (its connection lock and result plumbing cost about as much as a small indexed read): for the hottest
	 * reads only. On SQLite it runs on a read-only connection of its own, so it sees committed data only and
	 * never joins a transaction open on the main connection; on PostgreSQL it is a named prepared statement.
	 * Parameters go in the order the builder placed them.
	 */
	preparedRead<Row>(query: CompiledQuery<Row>): (...parameters: unknown[]) => Promise<Row[]>;
	/** SQLite only: a consistent copy of the live database at `path` (SQLite's online backup). */
	readonly backupTo?: (path: string) => Promise<void>;
	close(): Promise<void>;
}

export type SqlDatabaseOptions =
	| { readonly kind: "sqlite"; readonly path: string }
	| {
			readonly kind: "postgres";
			readonly url: string;
			readonly poolMax: number;
			/** How long a query waits for a connection (new or pooled) before it fails as unavailable. */
			readonly connectTimeoutMs?: number;
			/** Told of every connection the server drops (restart, failover, an idle-timeout proxy). */
			readonly onConnectionLost?: (error: Error) => void;
	  };

const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

/**
 * Every query, connection and transaction step of `dialect`, with an unreachable database reported as
 * `service_unavailable`. The driver's own connection objects are handed back to it unwrapped.
 */
function dialectReportingUnreachable(dialect: Dialect): Dialect {
	const mapped = async <T>(work: () => Promise<T>): Promise<T> => {
		try {
			return await work();
		} catch (error) {
			throw asUnavailableWhenUnreachable(error);
		}
	};
	const wrappers = new WeakMap<DatabaseConnection, DatabaseConnection>();
	const inner = (connection: DatabaseConnection) => wrappers.get(connection) ?? connection;
	const wrap = (connection: DatabaseConnection): DatabaseConnection => {
		const wrapper: DatabaseConnection = {
			executeQuery: (query) => mapped(() => connection.executeQuery(query)),
			streamQuery: (query, chunkSize) => connection.streamQuery(query, chunkSize),
		};
		wrappers.set(wrapper, connection);
		return wrapper;
	};
	return {
		createAdapter: () => dialect.createAdapter(),
		createQueryCompiler: () => dialect.createQueryCompiler(),
		createIntrospector: (db) => dialect.createIntrospector(db),
		createDriver: (): Driver => {
			const driver = dialect.createDriver();
			return {
				init: () => mapped(() => driver.init()),
				acquireConnection: async () => wrap(await mapped(() => driver.acquireConnection())),
				beginTransaction: (connection, settings) =>
					mapped(() => driver.beginTransaction(inner(connection), settings)),
				commitTransaction: (connection) =>
					mapped(() => driver.commitTransaction(inner(connection))),
				rollbackTransaction: (connection) =>
					mapped(() => driver.rollbackTransaction(inner(connection))),
				// Both drivers (SQLite, PostgreSQL) have savepoints; Tollgate itself does not use them.
				savepoint: (connection, name, compile) =>
					mapped(async () => driver.savepoint?.(inner(connection), name, compile)),
				rollbackToSavepoint: (connection, name, compile) =>
					mapped(async () => driver.rollbackToSavepoint?.(inner(connection), name, compile)),
				releaseSavepoint: (connection, name, compile) =>
					mapped(async () => driver.releaseSavepoint?.(inner(connection), name, compile)),
				releaseConnection: (connection) => driver.releaseConnection(inner(connection)),
				destroy: () => driver.destroy(),
			};
		},
	};
}

const PG_INT8_OID = 20;

/** Millisecond timestamps and byte counts are BIGINT; they stay far below 2^53, so read them as numbers. */
function pgTypeParser(oid: number, format?: string): (value: string) => unknown {
	if (oid === PG_INT8_OID) return (value) => Number(value);
	return format === "binary"
		? pg.types.getTypeParser(oid, "binary")
		: pg.types.getTypeParser(oid, "text");
}

const STATEMENT_CACHE_SIZE = 256;

/**
 * Kysely prepares every query anew, and better-sqlite3 compiles on each prepare (about a tenth of a
 * small request's time): keep the most recently used compiled statements, by SQL text. Kysely runs them
 * with all() or run() one at a time, so a cached statement is never busy when it is handed out again.
 */
function withStatementCache(handle: SqliteDatabase.Database) {
	const cache = new Map<string, SqliteDatabase.Statement>();
	return {
		close: () => {
			handle.close();
		},
		prepare: (text: string) => {
			const cached = cache.get(text);
			if (cached !== undefined) {
				cache.delete(text);
				cache.set(text, cached);
				return cached;
			}
			const statement = handle.prepare(text);
			cache.set(text, statement);
			if (cache.size > STATEMENT_CACHE_SIZE) {
				const oldest = cache.keys().next().value;
				if (oldest !== undefined) cache.delete(oldest);
			}
			return statement;
		},
	};
}

export function openSqlDatabase(options: SqlDatabaseOptions): SqlDatabase {
	if (options.kind === "sqlite") {
		if (options.path !== ":memory:") mkdirSync(dirname(options.path), { recursive: true });
		const handle = new SqliteDatabase(options.path);
		handle.pragma("journal_mode = WAL");
		handle.pragma("synchronous = NORMAL");
		handle.pragma("busy_timeout = 5000");
		handle.pragma("foreign_keys = ON");
		const db = new Kysely<FoundationTables>({
			dialect: dialectReportingUnreachable(
				new SqliteDialect({ database: withStatementCache(handle) }),
			),
		});
		let reader: SqliteDatabase.Database | undefined;
		// Opened on first use, after the migrations made the tables it reads; an in-memory database has no
		// second connection to share it.
		const readerHandle = () => {
			if (options.path === ":memory:") return handle;
			if (reader === undefined) {
				reader = new SqliteDatabase(options.path, { readonly: true });
				reader.pragma("busy_timeout = 5000");
			}
			return reader;
		};
		return {
			dialect: "sqlite",
			db,
			preparedRead: <Row>(query: CompiledQuery<Row>) => {
				let statement: SqliteDatabase.Statement | undefined;
				return async (...parameters: unknown[]) =>
					reportingUnreachable(() => {
						statement ??= readerHandle().prepare(query.sql);
						// The rows of our own compiled query: Kysely types them the same way.
						return statement.all(...parameters) as Row[];
					});
			},
			// better-sqlite3 prepares one statement at a time; exec runs a script on the same (only) connection,
			// so it joins whatever transaction Kysely has open on it.
			runScript: async (_executor, script) => {
				handle.exec(script);
			},
			ping: async () => {
				await sql`select 1`.execute(db);
			},
			backupTo: async (path) => {
				await handle.backup(path);
				// The copy inherits WAL mode; a backup should be one self-contained file.
				const copy = new SqliteDatabase(path);
				copy.pragma("journal_mode = DELETE");
				copy.close();
			},
			close: async () => {
				reader?.close();
				await db.destroy();
			},
		};
	}
	const pool = new pg.Pool({
		connectionString: options.url,
		max: options.poolMax,
		connectionTimeoutMillis: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
		keepAlive: true,
		types: { getTypeParser: pgTypeParser },
	});
	// A connection the server drops emits 'error' on its client, and the pool re-emits it for idle ones:
	// with no listener either event ends the process. The pool already discards the broken connection and
	// opens a new one for the next query; a query that was running on it fails as unavailable.
	// The pool's own 'error' event repeats what the client listener below already reported.
	pool.on("error", () => {});
	pool.on("connect", (client) => {
		client.on("error", (error) => options.onConnectionLost?.(error));
	});
	const db = new Kysely<FoundationTables>({
		dialect: dialectReportingUnreachable(new PostgresDialect({ pool })),
	});
	let preparedCount = 0;
	return {
		dialect: "postgres",
		db,
		preparedRead: <Row>(query: CompiledQuery<Row>) => {
			preparedCount += 1;
			// A name makes pg prepare the statement once per connection and reuse its plan.
			const name = `tollgate_read_${preparedCount}`;
			return async (...parameters: unknown[]) => {
				try {
					return (await pool.query({ name, text: query.sql, values: parameters })).rows as Row[];
				} catch (error) {
					throw asUnavailableWhenUnreachable(error);
				}
			};
		},
		// Without bind parameters pg uses the simple query protocol, which accepts several statements.
		runScript: async (executor, script) => {
			await sql.raw(script).execute(executor);
		},
		ping: async () => {
			await sql`select 1`.execute(db);
		},
		close: () => db.destroy(),
	};
}
