/**
 * The Python Session Pro backend's database as an import source: its SQLite file (opened read-only) or its
 * PostgreSQL database (one REPEATABLE READ, READ ONLY transaction), both read in one snapshot. Column
 * names are the backend's (backend_schema.sql / backend_schema.pgsql, schema 9).
 */
import Database from "better-sqlite3";
import pg from "pg";
import type {
	LegacyBackendSource,
	LegacyGoogleNotification,
	LegacyPayment,
	LegacyRevocation,
	LegacyRuntime,
	LegacyUser,
	LegacyUserError,
} from "../legacy-import.ts";
import { LegacyImportError } from "../legacy-import.ts";

type Row = Record<string, unknown>;

/** One query on the source; both engines answer rows of column → value. */
type Query = (text: string) => Promise<Row[]>;

/** PostgreSQL gives BIGINT as text and BOOLEAN as boolean, SQLite numbers for both. */
function int(row: Row, column: string): number {
	const value = row[column];
	const number = typeof value === "string" ? Number(value) : value;
	if (typeof number !== "number" || !Number.isSafeInteger(number))
		throw new LegacyImportError(`column ${column} holds ${String(value)}, not an integer`);
	return number;
}

function intOrNull(row: Row, column: string): number | null {
	return row[column] === null ? null : int(row, column);
}

function bool(row: Row, column: string): boolean {
	const value = row[column];
	return value === true || value === 1 || value === "1";
}

function bytes(row: Row, column: string): Uint8Array {
	const value = row[column];
	if (!(value instanceof Uint8Array))
		throw new LegacyImportError(`column ${column} holds ${typeof value}, not bytes`);
	return new Uint8Array(value);
}

function bytesOrNull(row: Row, column: string): Uint8Array | null {
	return row[column] === null ? null : bytes(row, column);
}

function textOrNull(row: Row, column: string): string | null {
	const value = row[column];
	return value === null ? null : String(value);
}

/** An engine's error (a missing table, a dropped connection) said as the import's, naming the source. */
function readingAs(description: string, query: Query): Query {
	return async (text) => {
		try {
			return await query(text);
		} catch (error) {
			throw new LegacyImportError(
				`cannot read ${description} as a Session Pro backend: ${(error as Error).message}`,
			);
		}
	};
}

function reader(
	description: string,
	unwrappedQuery: Query,
	schemaVersion: (query: Query) => Promise<number>,
	close: () => Promise<void>,
): LegacyBackendSource {
	const query = readingAs(description, unwrappedQuery);
	return {
		description,
		schemaVersion: () => schemaVersion(query),
		close,
		async runtime(): Promise<LegacyRuntime> {
			const rows = await query(
				"SELECT gen_index, gen_index_salt, backend_key, apple_notification_checkpoint_unix_ts_ms, revocation_ticket FROM runtime",
			);
			const [row] = rows;
			if (row === undefined || rows.length !== 1)
				throw new LegacyImportError(`the runtime table holds ${rows.length} rows, not 1`);
			return {
				genIndex: int(row, "gen_index"),
				genIndexSalt: bytes(row, "gen_index_salt"),
				backendKey: bytes(row, "backend_key"),
				appleCheckpointMs: int(row, "apple_notification_checkpoint_unix_ts_ms"),
				revocationTicket: int(row, "revocation_ticket"),
			};
		},
		async users(): Promise<LegacyUser[]> {
			const rows = await query(
				"SELECT master_pkey, gen_index, expiry_unix_ts_ms, grace_period_duration_ms, auto_renewing FROM users ORDER BY gen_index",
			);
			return rows.map((row) => ({
				masterPkey: bytes(row, "master_pkey"),
				genIndex: int(row, "gen_index"),
				expiryMs: int(row, "expiry_unix_ts_ms"),
				gracePeriodMs: int(row, "grace_period_duration_ms"),
				autoRenewing: bool(row, "auto_renewing"),
			}));
		},
		async payments(): Promise<LegacyPayment[]> {
			const rows = await query(
				`SELECT id, master_pkey, status, plan, payment_provider, auto_renewing, unredeemed_unix_ts_ms,
					redeemed_unix_ts_ms, expiry_unix_ts_ms, grace_period_duration_ms, platform_refund_expiry_unix_ts_ms,
					revoked_unix_ts_ms, apple_original_tx_id, apple_tx_id, google_payment_token, google_order_id,
					rangeproof_order_id, refund_requested_unix_ts_ms, google_obfuscated_account_id, apple_app_account_token
				FROM payments ORDER BY id`,
			);
			return rows.map((row) => ({
				id: int(row, "id"),
				masterPkey: bytesOrNull(row, "master_pkey"),
				status: int(row, "status"),
				plan: int(row, "plan"),
				provider: int(row, "payment_provider"),
				autoRenewing: bool(row, "auto_renewing"),
				unredeemedMs: int(row, "unredeemed_unix_ts_ms"),
				redeemedMs: intOrNull(row, "redeemed_unix_ts_ms"),
				expiryMs: int(row, "expiry_unix_ts_ms"),
				gracePeriodMs: intOrNull(row, "grace_period_duration_ms"),
				platformRefundExpiryMs: int(row, "platform_refund_expiry_unix_ts_ms"),
				revokedMs: intOrNull(row, "revoked_unix_ts_ms"),
				appleOriginalTxId: textOrNull(row, "apple_original_tx_id"),
				appleTxId: textOrNull(row, "apple_tx_id"),
				googlePaymentToken: textOrNull(row, "google_payment_token"),
				googleOrderId: textOrNull(row, "google_order_id"),
				rangeproofOrderId: textOrNull(row, "rangeproof_order_id"),
				refundRequestedMs: int(row, "refund_requested_unix_ts_ms"),
				googleObfuscatedAccountId: bytesOrNull(row, "google_obfuscated_account_id"),
				appleAppAccountToken: textOrNull(row, "apple_app_account_token") ?? "",
			}));
		},
		async revocations(): Promise<LegacyRevocation[]> {
			const rows = await query(
				"SELECT gen_index, creation_unix_ts_ms, expiry_unix_ts_ms FROM revocations ORDER BY gen_index",
			);
			return rows.map((row) => ({
				genIndex: int(row, "gen_index"),
				creationMs: int(row, "creation_unix_ts_ms"),
				expiryMs: int(row, "expiry_unix_ts_ms"),
			}));
		},
		async appleNotifications() {
			const rows = await query(
				"SELECT uuid, expiry_unix_ts_ms FROM apple_notification_uuid_history",
			);
			return rows.map((row) => ({
				uuid: String(row.uuid),
				expiryMs: int(row, "expiry_unix_ts_ms"),
			}));
		},
		async googleNotifications(): Promise<LegacyGoogleNotification[]> {
			const rows = await query(
				"SELECT message_id, handled, payload, expiry_unix_ts_ms FROM google_notification_history ORDER BY message_id",
			);
			return rows.map((row) => ({
				messageId: String(row.message_id),
				handled: bool(row, "handled"),
				payload: textOrNull(row, "payload"),
				expiryMs: int(row, "expiry_unix_ts_ms"),
			}));
		},
		async userErrors(): Promise<LegacyUserError[]> {
			const rows = await query("SELECT payment_id, payment_provider FROM user_errors");
			return rows.map((row) => ({
				paymentId: String(row.payment_id),
				provider: int(row, "payment_provider"),
			}));
		},
	};
}

function openSqliteSource(path: string): LegacyBackendSource {
	let handle: Database.Database;
	try {
		handle = new Database(path, { readonly: true, fileMustExist: true });
	} catch (error) {
		throw new LegacyImportError(`cannot open ${path}: ${(error as Error).message}`);
	}
	// A read transaction: every later SELECT sees the database as of the first one.
	handle.exec("BEGIN");
	const query: Query = async (text) => handle.prepare(text).all() as Row[];
	return reader(
		`SQLite database ${path}`,
		query,
		async () => Number(handle.pragma("user_version", { simple: true })),
		async () => {
			handle.exec("ROLLBACK");
			handle.close();
		},
	);
}

async function openPostgresSource(url: string): Promise<LegacyBackendSource> {
	const parsed = new URL(url);
	const description = `PostgreSQL database ${parsed.host}${parsed.pathname}`;
	const client = new pg.Client({ connectionString: url });
	client.on("error", () => {});
	try {
		await client.connect();
	} catch (error) {
		throw new LegacyImportError(`cannot connect to ${description}: ${(error as Error).message}`);
	}
	await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
	const query: Query = async (text) => (await client.query(text)).rows as Row[];
	return reader(
		description,
		query,
		async (query) => {
			const rows = await query("SELECT version FROM schema_version LIMIT 1");
			return rows[0] === undefined ? 0 : int(rows[0], "version");
		},
		async () => {
			await client.query("ROLLBACK").catch(() => {});
			await client.end();
		},
	);
}

/**
 * The backend's database from what an operator has at hand: a file path, the backend's own `db_url`
 * (`sqlite:///backend.db`, `postgresql://user:pw@host:port/db`) or a `postgres://` URL.
 */
export function openLegacyBackendSource(location: string): Promise<LegacyBackendSource> {
	if (/^postgres(ql)?:\/\//.test(location)) return openPostgresSource(location);
	const path = location.startsWith("sqlite:///") ? location.slice("sqlite:///".length) : location;
	return Promise.resolve(openSqliteSource(path));
}
