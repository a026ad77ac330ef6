/**
 * One Kysely instance over SQLite (better-sqlite3, WAL) or PostgreSQL (pg pool), chosen by config alone.
 * Everything above this file writes one query for both dialects.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import SqliteDatabase from "better-sqlite3";
import { Kysely, PostgresDialect, SqliteDialect, sql } from "kysely";
import pg from "pg";
import type { FoundationTables } from "./tables.ts";

export type SqlDialectName = "sqlite" | "postgres";

export interface SqlDatabase {
	readonly dialect: SqlDialectName;
	readonly db: Kysely<FoundationTables>;
	/** Runs a multi-statement SQL script (a migration) on the given connection or transaction. */
	runScript(executor: Kysely<unknown>, script: string): Promise<void>;
	ping(): Promise<void>;
	/** SQLite only: a consistent copy of the live database at `path` (SQLite's online backup). */
	readonly backupTo?: (path: string) => Promise<void>;
	close(): Promise<void>;
}

export type SqlDatabaseOptions =
	| { readonly kind: "sqlite"; readonly path: string }
	| { readonly kind: "postgres"; readonly url: string; readonly poolMax: number };

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
			dialect: new SqliteDialect({ database: withStatementCache(handle) }),
		});
		return {
			dialect: "sqlite",
			db,
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
			close: () => db.destroy(),
		};
	}
	const pool = new pg.Pool({
		connectionString: options.url,
		max: options.poolMax,
		types: { getTypeParser: pgTypeParser },
	});
	const db = new Kysely<FoundationTables>({ dialect: new PostgresDialect({ pool }) });
	return {
		dialect: "postgres",
		db,
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
