/**
 * The single-machine key-value store: a SQLite file of its own (WAL), so it survives restarts and
 * several processes on one machine share it. Every read-modify-write runs in BEGIN IMMEDIATE, which takes
 * SQLite's write lock first; that is what makes consume/setIfAbsent/increment atomic across processes.
 * Expired rows are invisible at once and deleted later by `sweepExpired` (a leased job).
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import SqliteDatabase from "better-sqlite3";
import type { Clock } from "#lib/clock";
import { reportingUnreachable } from "../faults.ts";
import { type KeyValueStore, WrongKindError } from "../key-value-store.ts";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS kv_entries (
	key TEXT PRIMARY KEY,
	kind TEXT NOT NULL CHECK (kind IN ('value', 'set')),
	value TEXT,
	expires_at_ms INTEGER
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kv_set_members (
	key TEXT NOT NULL,
	member TEXT NOT NULL,
	PRIMARY KEY (key, member)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS kv_entries_expires_at ON kv_entries (expires_at_ms) WHERE expires_at_ms IS NOT NULL;
`;

type EntryKind = "value" | "set";

interface EntryRow {
	readonly kind: EntryKind;
	readonly value: string | null;
	readonly expiresAtMs: number | null;
}

function isEntryRow(row: unknown): row is EntryRow {
	if (typeof row !== "object" || row === null) return false;
	const candidate: { kind?: unknown } = row;
	return candidate.kind === "value" || candidate.kind === "set";
}

function readEntry(row: unknown): EntryRow | undefined {
	if (row === undefined) return undefined;
	if (!isEntryRow(row)) throw new Error("kv_entries holds a row of unknown shape");
	return row;
}

function expiresAt(nowMs: number, ttlMs: number | undefined): number | null {
	return ttlMs === undefined ? null : nowMs + ttlMs;
}

function parseCounter(key: string, value: string | null): number {
	const parsed = Number(value);
	if (value === null || !Number.isSafeInteger(parsed)) throw new WrongKindError(key);
	return parsed;
}

function prepareStatements(db: SqliteDatabase.Database) {
	return {
		selectLive: db.prepare(
			"SELECT kind, value, expires_at_ms AS expiresAtMs FROM kv_entries WHERE key = ? AND (expires_at_ms IS NULL OR expires_at_ms > ?)",
		),
		upsert: db.prepare(
			"INSERT INTO kv_entries (key, kind, value, expires_at_ms) VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, value = excluded.value, expires_at_ms = excluded.expires_at_ms",
		),
		updateValue: db.prepare("UPDATE kv_entries SET value = ? WHERE key = ?"),
		updateExpiry: db.prepare("UPDATE kv_entries SET expires_at_ms = ? WHERE key = ?"),
		deleteEntry: db.prepare("DELETE FROM kv_entries WHERE key = ?"),
		deleteMembers: db.prepare("DELETE FROM kv_set_members WHERE key = ?"),
		insertMember: db.prepare("INSERT OR IGNORE INTO kv_set_members (key, member) VALUES (?, ?)"),
		deleteMember: db.prepare("DELETE FROM kv_set_members WHERE key = ? AND member = ?"),
		countMembers: db.prepare("SELECT count(*) AS n FROM kv_set_members WHERE key = ?").pluck(),
		hasMember: db.prepare("SELECT 1 FROM kv_set_members WHERE key = ? AND member = ?").pluck(),
		listMembers: db.prepare("SELECT member FROM kv_set_members WHERE key = ?").pluck(),
		deleteExpiredMembers: db.prepare(
			"DELETE FROM kv_set_members WHERE key IN (SELECT key FROM kv_entries WHERE expires_at_ms <= ? ORDER BY expires_at_ms LIMIT ?)",
		),
		deleteExpiredEntries: db.prepare(
			"DELETE FROM kv_entries WHERE key IN (SELECT key FROM kv_entries WHERE expires_at_ms <= ? ORDER BY expires_at_ms LIMIT ?)",
		),
	};
}

export class EmbeddedKeyValueStore implements KeyValueStore {
	readonly #db: SqliteDatabase.Database;
	readonly #clock: Clock;
	readonly #statements: ReturnType<typeof prepareStatements>;

	constructor(path: string, clock: Clock) {
		if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
		this.#db = new SqliteDatabase(path);
		this.#db.pragma("journal_mode = WAL");
		this.#db.pragma("synchronous = NORMAL");
		this.#db.pragma("busy_timeout = 5000");
		this.#db.exec(SCHEMA);
		this.#clock = clock;
		this.#statements = prepareStatements(this.#db);
	}

	#live(key: string, nowMs: number): EntryRow | undefined {
		return readEntry(reportingUnreachable(() => this.#statements.selectLive.get(key, nowMs)));
	}

	/** Runs `work` holding SQLite's write lock, so the read and the write it decides are one step. */
	#atomically<T>(work: (nowMs: number) => T): T {
		return reportingUnreachable(() =>
			this.#db.transaction(() => work(this.#clock.nowMs())).immediate(),
		);
	}

	#purge(key: string): void {
		this.#statements.deleteMembers.run(key);
		this.#statements.deleteEntry.run(key);
	}

	#liveOfKind(key: string, kind: EntryKind, nowMs: number): EntryRow | undefined {
		const entry = this.#live(key, nowMs);
		if (entry !== undefined && entry.kind !== kind) throw new WrongKindError(key);
		return entry;
	}

	async get(key: string): Promise<string | null> {
		return this.#liveOfKind(key, "value", this.#clock.nowMs())?.value ?? null;
	}

	async set(key: string, value: string, options: { ttlMs?: number } = {}): Promise<void> {
		this.#atomically((nowMs) => {
			this.#statements.deleteMembers.run(key);
			this.#statements.upsert.run(key, "value", value, expiresAt(nowMs, options.ttlMs));
		});
	}

	async setIfAbsent(
		key: string,
		value: string,
		options: { ttlMs?: number } = {},
	): Promise<boolean> {
		return this.#atomically((nowMs) => {
			if (this.#live(key, nowMs) !== undefined) return false;
			this.#purge(key);
			this.#statements.upsert.run(key, "value", value, expiresAt(nowMs, options.ttlMs));
			return true;
		});
	}

	async consume(key: string): Promise<string | null> {
		return this.#atomically((nowMs) => {
			const entry = this.#liveOfKind(key, "value", nowMs);
			if (entry === undefined) return null;
			this.#statements.deleteEntry.run(key);
			return entry.value;
		});
	}

	async delete(key: string): Promise<boolean> {
		return this.#atomically((nowMs) => {
			const existed = this.#live(key, nowMs) !== undefined;
			this.#purge(key);
			return existed;
		});
	}

	async increment(key: string, options: { by?: number; ttlMs?: number } = {}): Promise<number> {
		const by = options.by ?? 1;
		return this.#atomically((nowMs) => {
			const entry = this.#liveOfKind(key, "value", nowMs);
			if (entry === undefined) {
				this.#purge(key);
				this.#statements.upsert.run(key, "value", String(by), expiresAt(nowMs, options.ttlMs));
				return by;
			}
			const next = parseCounter(key, entry.value) + by;
			this.#statements.updateValue.run(String(next), key);
			return next;
		});
	}

	async expire(key: string, ttlMs: number | null): Promise<boolean> {
		return this.#atomically((nowMs) => {
			if (this.#live(key, nowMs) === undefined) return false;
			this.#statements.updateExpiry.run(ttlMs === null ? null : nowMs + ttlMs, key);
			return true;
		});
	}

	async ttlMs(key: string): Promise<number | null> {
		const nowMs = this.#clock.nowMs();
		const entry = this.#live(key, nowMs);
		if (entry === undefined) return null;
		return entry.expiresAtMs === null ? Number.POSITIVE_INFINITY : entry.expiresAtMs - nowMs;
	}

	async addToSet(
		key: string,
		members: readonly string[],
		options: { ttlMs?: number } = {},
	): Promise<void> {
		this.#atomically((nowMs) => {
			const entry = this.#liveOfKind(key, "set", nowMs);
			if (entry === undefined) {
				if (members.length === 0) return;
				this.#purge(key);
				this.#statements.upsert.run(key, "set", null, expiresAt(nowMs, options.ttlMs));
			} else if (options.ttlMs !== undefined) {
				this.#statements.updateExpiry.run(nowMs + options.ttlMs, key);
			}
			for (const member of members) this.#statements.insertMember.run(key, member);
		});
	}

	async removeFromSet(key: string, members: readonly string[]): Promise<void> {
		this.#atomically((nowMs) => {
			if (this.#liveOfKind(key, "set", nowMs) === undefined) return;
			for (const member of members) this.#statements.deleteMember.run(key, member);
			if (this.#statements.countMembers.get(key) === 0) this.#purge(key);
		});
	}

	async isSetMember(key: string, member: string): Promise<boolean> {
		if (this.#liveOfKind(key, "set", this.#clock.nowMs()) === undefined) return false;
		return reportingUnreachable(() => this.#statements.hasMember.get(key, member)) !== undefined;
	}

	async setMembers(key: string): Promise<string[]> {
		if (this.#liveOfKind(key, "set", this.#clock.nowMs()) === undefined) return [];
		return reportingUnreachable(() => this.#statements.listMembers.all(key)).map(String);
	}

	/** Deletes up to `batchSize` expired keys (with their set members); returns how many. */
	sweepExpired(batchSize: number): number {
		return this.#atomically((nowMs) => {
			this.#statements.deleteExpiredMembers.run(nowMs, batchSize);
			return this.#statements.deleteExpiredEntries.run(nowMs, batchSize).changes;
		});
	}

	async ping(): Promise<void> {
		reportingUnreachable(() => this.#db.prepare("SELECT 1").get());
	}

	async close(): Promise<void> {
		this.#db.close();
	}
}
