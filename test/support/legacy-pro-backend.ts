/**
 * A Python Session Pro backend's database (specs/session-pro.md §6, schema 9) with the rows its own rules
 * would have left, on SQLite or PostgreSQL, for `tollgate entitlements import` to read. The schema follows
 * the backend's backend_schema.sql / backend_schema.pgsql: its columns, types, checks and ticket triggers.
 */
import { createHash, randomBytes } from "node:crypto";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { createTestPostgresDatabase, postgresAdminUrl } from "./engines.ts";
import { type KeyPair, randomKeyPair } from "./pro-client.ts";
import { legacyGenIndexHash } from "./pro-legacy-client.ts";

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

const SQLITE_SCHEMA = `
CREATE TABLE payments (
	id INTEGER PRIMARY KEY NOT NULL, master_pkey BLOB, status INTEGER NOT NULL, plan INTEGER NOT NULL,
	payment_provider INTEGER NOT NULL, auto_renewing INTEGER NOT NULL, unredeemed_unix_ts_ms INTEGER NOT NULL,
	redeemed_unix_ts_ms INTEGER, expiry_unix_ts_ms INTEGER NOT NULL, grace_period_duration_ms INTEGER,
	platform_refund_expiry_unix_ts_ms INTEGER NOT NULL, revoked_unix_ts_ms INTEGER, apple_original_tx_id TEXT,
	apple_tx_id TEXT, apple_web_line_order_tx_id TEXT, google_payment_token TEXT, google_order_id TEXT,
	rangeproof_order_id TEXT, refund_requested_unix_ts_ms INTEGER NOT NULL, google_obfuscated_account_id BLOB,
	apple_app_account_token TEXT NOT NULL DEFAULT '');
CREATE TABLE users (
	master_pkey BLOB PRIMARY KEY NOT NULL, gen_index INTEGER NOT NULL, expiry_unix_ts_ms INTEGER NOT NULL,
	grace_period_duration_ms INTEGER NOT NULL, auto_renewing INTEGER NOT NULL,
	refund_requested_unix_ts_ms INTEGER NOT NULL, google_obfuscated_account_id BLOB NOT NULL,
	apple_app_account_token TEXT NOT NULL);
CREATE TABLE revocations (
	gen_index INTEGER PRIMARY KEY NOT NULL, creation_unix_ts_ms INTEGER NOT NULL DEFAULT 0,
	expiry_unix_ts_ms INTEGER NOT NULL);
CREATE TABLE runtime (
	gen_index INTEGER NOT NULL, gen_index_salt BLOB NOT NULL, backend_key BLOB NOT NULL,
	last_expire_unix_ts_ms INTEGER NOT NULL, apple_notification_checkpoint_unix_ts_ms INTEGER NOT NULL,
	revocation_ticket INTEGER NOT NULL);
CREATE TABLE apple_notification_uuid_history (uuid TEXT NOT NULL, expiry_unix_ts_ms INTEGER NOT NULL);
CREATE TABLE google_notification_history (
	message_id INTEGER NOT NULL, handled INTEGER NOT NULL, payload TEXT, expiry_unix_ts_ms INTEGER NOT NULL);
CREATE TABLE user_errors (
	payment_id TEXT NOT NULL, payment_provider INTEGER NOT NULL, unix_ts_ms INTEGER NOT NULL,
	UNIQUE (payment_id, payment_provider));
CREATE TRIGGER increment_revocation_ticket_after_insert AFTER INSERT ON revocations
BEGIN UPDATE runtime SET revocation_ticket = revocation_ticket + 1; END;
CREATE TRIGGER increment_revocation_ticket_after_delete AFTER DELETE ON revocations
BEGIN UPDATE runtime SET revocation_ticket = revocation_ticket + 1; END;
PRAGMA user_version = 9;
`;

const POSTGRES_SCHEMA = `
CREATE TABLE payments (
	id SERIAL PRIMARY KEY, master_pkey BYTEA CHECK (octet_length(master_pkey) = 32),
	status INTEGER NOT NULL, plan INTEGER NOT NULL, payment_provider INTEGER NOT NULL,
	auto_renewing BOOLEAN NOT NULL DEFAULT FALSE, unredeemed_unix_ts_ms BIGINT NOT NULL,
	redeemed_unix_ts_ms BIGINT, expiry_unix_ts_ms BIGINT NOT NULL, grace_period_duration_ms BIGINT,
	platform_refund_expiry_unix_ts_ms BIGINT NOT NULL, revoked_unix_ts_ms BIGINT, apple_original_tx_id TEXT,
	apple_tx_id TEXT, apple_web_line_order_tx_id TEXT, google_payment_token TEXT, google_order_id TEXT,
	rangeproof_order_id TEXT, refund_requested_unix_ts_ms BIGINT NOT NULL DEFAULT 0,
	google_obfuscated_account_id BYTEA NULL CHECK (octet_length(google_obfuscated_account_id) = 32),
	apple_app_account_token TEXT NOT NULL DEFAULT '');
CREATE TABLE users (
	master_pkey BYTEA PRIMARY KEY CHECK (octet_length(master_pkey) = 32), gen_index INTEGER NOT NULL,
	expiry_unix_ts_ms BIGINT NOT NULL, grace_period_duration_ms BIGINT NOT NULL,
	auto_renewing BOOLEAN NOT NULL DEFAULT FALSE, refund_requested_unix_ts_ms BIGINT NOT NULL DEFAULT 0,
	google_obfuscated_account_id BYTEA NULL CHECK (octet_length(google_obfuscated_account_id) = 32),
	apple_app_account_token TEXT NOT NULL DEFAULT '');
CREATE TABLE revocations (
	gen_index INTEGER PRIMARY KEY NOT NULL, creation_unix_ts_ms BIGINT NOT NULL DEFAULT 0,
	expiry_unix_ts_ms BIGINT NOT NULL);
CREATE TABLE runtime (
	gen_index INTEGER NOT NULL DEFAULT 0,
	gen_index_salt BYTEA NOT NULL CHECK (octet_length(gen_index_salt) = 16),
	backend_key BYTEA NOT NULL CHECK (octet_length(backend_key) = 32),
	last_expire_unix_ts_ms BIGINT NOT NULL DEFAULT 0,
	apple_notification_checkpoint_unix_ts_ms BIGINT NOT NULL DEFAULT 0,
	revocation_ticket INTEGER NOT NULL DEFAULT 0);
CREATE TABLE apple_notification_uuid_history (uuid TEXT NOT NULL, expiry_unix_ts_ms BIGINT NOT NULL);
CREATE TABLE google_notification_history (
	message_id BIGINT NOT NULL, handled BOOLEAN NOT NULL DEFAULT FALSE, payload TEXT,
	expiry_unix_ts_ms BIGINT NOT NULL);
CREATE TABLE user_errors (
	payment_id TEXT NOT NULL, payment_provider INTEGER NOT NULL, unix_ts_ms BIGINT NOT NULL,
	UNIQUE (payment_id, payment_provider));
CREATE FUNCTION increment_revocation_ticket() RETURNS TRIGGER AS $$
BEGIN UPDATE runtime SET revocation_ticket = revocation_ticket + 1; RETURN NEW; END; $$ LANGUAGE plpgsql;
CREATE TRIGGER increment_revocation_ticket_after_insert AFTER INSERT ON revocations
	FOR EACH ROW EXECUTE FUNCTION increment_revocation_ticket();
CREATE TRIGGER increment_revocation_ticket_after_delete AFTER DELETE ON revocations
	FOR EACH ROW EXECUTE FUNCTION increment_revocation_ticket();
CREATE TABLE schema_version (id SERIAL PRIMARY KEY, version INTEGER NOT NULL DEFAULT 0);
INSERT INTO schema_version (id, version) VALUES (1, 9);
`;

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest();
const roundUpToNextDay = (ms: number) => Math.ceil(ms / DAY_MS) * DAY_MS;

/** A Pub/Sub ReceivedMessage as the backend stored an unhandled one (`ReceivedMessage.to_json`). */
function receivedMessage(messageId: string, purchaseToken: string, eventAtMs: number): string {
	const data = {
		version: "1.0",
		packageName: "network.loki.messenger",
		eventTimeMillis: String(eventAtMs),
		subscriptionNotification: { version: "1.0", notificationType: 2, purchaseToken },
	};
	return JSON.stringify({
		ackId: "ack-1",
		message: {
			data: Buffer.from(JSON.stringify(data)).toString("base64"),
			attributes: {},
			messageId,
			publishTime: new Date(eventAtMs).toISOString(),
			orderingKey: "",
		},
		deliveryAttempt: 0,
	});
}

/**
 * What the backend's rules leave after a few months (`nowMs` is when it was stopped):
 * - `active`: a Google subscription bought 10 days ago, auto-renewing with the 1 h default grace; its
 *   first generation (1) was revoked by a plan change, its current one is 3;
 * - `refunded`: an App Store payment refunded 2 days ago: its generation 4 is revoked, nothing is left;
 * - `voucher`: a Rangeproof voucher that expired yesterday (generation 2);
 * - `buyer`: a Google purchase not yet claimed (obfuscated account id = sha256 of the master key);
 * - a revocation of generation 0 from before the backend's schema 9 (creation 0);
 * - store bookkeeping: two Apple notification UUIDs, a handled and an unhandled Google message, and two
 *   payments with errors.
 */
export function legacyScenario(nowMs: number) {
	const active = randomKeyPair();
	const refunded = randomKeyPair();
	const voucher = randomKeyPair();
	const buyer = randomKeyPair();
	const backendSeed = new Uint8Array(randomBytes(32));
	const salt = new Uint8Array(randomBytes(16));
	const bought = nowMs - 10 * DAY_MS;
	const activeExpiry = nowMs + 20 * DAY_MS;
	const refundedAt = nowMs - 2 * DAY_MS;
	const voucherExpiry = nowMs - DAY_MS;
	const activePayment = {
		master_pkey: active.publicKey,
		status: 2,
		plan: 1,
		payment_provider: 1,
		auto_renewing: true,
		unredeemed_unix_ts_ms: bought,
		redeemed_unix_ts_ms: roundUpToNextDay(bought),
		expiry_unix_ts_ms: activeExpiry,
		grace_period_duration_ms: HOUR_MS,
		platform_refund_expiry_unix_ts_ms: bought + 2 * DAY_MS,
		revoked_unix_ts_ms: null,
		google_payment_token: "token-active",
		google_order_id: "GPA.3301-0001",
		refund_requested_unix_ts_ms: 0,
		google_obfuscated_account_id: sha256(active.publicKey),
	};
	const refundedPayment = {
		master_pkey: refunded.publicKey,
		status: 4,
		plan: 2,
		payment_provider: 2,
		auto_renewing: false,
		unredeemed_unix_ts_ms: nowMs - 20 * DAY_MS,
		redeemed_unix_ts_ms: roundUpToNextDay(nowMs - 20 * DAY_MS),
		expiry_unix_ts_ms: nowMs + 70 * DAY_MS,
		grace_period_duration_ms: HOUR_MS,
		platform_refund_expiry_unix_ts_ms: nowMs + 70 * DAY_MS,
		revoked_unix_ts_ms: refundedAt,
		apple_original_tx_id: "2000000901",
		apple_tx_id: "2000000902",
		apple_web_line_order_tx_id: "2000000903",
		refund_requested_unix_ts_ms: nowMs - 3 * DAY_MS,
	};
	const voucherPayment = {
		master_pkey: voucher.publicKey,
		status: 3,
		plan: 3,
		payment_provider: 3,
		auto_renewing: false,
		unredeemed_unix_ts_ms: voucherExpiry - 365 * DAY_MS,
		redeemed_unix_ts_ms: voucherExpiry - 365 * DAY_MS,
		expiry_unix_ts_ms: voucherExpiry,
		grace_period_duration_ms: 0,
		platform_refund_expiry_unix_ts_ms: 0,
		revoked_unix_ts_ms: null,
		rangeproof_order_id: "6f1c1b9e-2f7d-4b7e-9c55-0d4f7a8e9b10",
		refund_requested_unix_ts_ms: 0,
	};
	const unclaimedPayment = {
		master_pkey: null,
		status: 1,
		plan: 1,
		payment_provider: 1,
		auto_renewing: true,
		unredeemed_unix_ts_ms: nowMs - HOUR_MS,
		redeemed_unix_ts_ms: null,
		expiry_unix_ts_ms: nowMs + 30 * DAY_MS,
		grace_period_duration_ms: HOUR_MS,
		platform_refund_expiry_unix_ts_ms: nowMs + 2 * DAY_MS,
		revoked_unix_ts_ms: null,
		google_payment_token: "token-buyer",
		google_order_id: "GPA.3301-0002",
		refund_requested_unix_ts_ms: 0,
		google_obfuscated_account_id: sha256(buyer.publicKey),
	};
	const activeUser = {
		key: active,
		gen_index: 3,
		expiry: activeExpiry + HOUR_MS,
		grace: HOUR_MS,
		auto_renewing: true,
	};
	const revocation = {
		beforeSchema9: { gen_index: 0, creation: 0, expiry: nowMs + 3 * DAY_MS },
		planChange: { gen_index: 1, creation: bought, expiry: activeExpiry + HOUR_MS },
		refund: { gen_index: 4, creation: refundedAt, expiry: refundedAt },
	};
	return {
		nowMs,
		payment: { active: activePayment, refunded: refundedPayment },
		user: { active: activeUser },
		revocation,
		backendSeed,
		salt,
		keys: { active, refunded, voucher, buyer },
		payments: [activePayment, refundedPayment, voucherPayment, unclaimedPayment],
		users: [
			{ key: voucher, gen_index: 2, expiry: voucherExpiry, grace: 0, auto_renewing: false },
			activeUser,
			{ key: refunded, gen_index: 4, expiry: refundedAt, grace: HOUR_MS, auto_renewing: false },
		],
		revocations: [revocation.beforeSchema9, revocation.planChange, revocation.refund],
		nextGenIndex: 5,
		appleCheckpointMs: nowMs - HOUR_MS,
		apple: [
			{ uuid: "6b1a7e0e-64a8-4a4e-b1f0-1e9f1f0c0001", expiry: nowMs + HOUR_MS },
			{ uuid: "6b1a7e0e-64a8-4a4e-b1f0-1e9f1f0c0002", expiry: nowMs - DAY_MS },
		],
		google: [
			{ message_id: "1001", handled: true, payload: null, expiry: nowMs + 7 * DAY_MS },
			{
				message_id: "1002",
				handled: false,
				payload: receivedMessage("1002", "token-active", nowMs - HOUR_MS),
				expiry: nowMs - HOUR_MS + 8 * DAY_MS,
			},
		],
		userErrors: [
			{ payment_id: "token-errored", payment_provider: 1, unix_ts_ms: nowMs - DAY_MS },
			{ payment_id: "2000000777", payment_provider: 2, unix_ts_ms: nowMs - DAY_MS },
		],
		genIndexHash: (genIndex: number) => legacyGenIndexHash(genIndex, salt),
	};
}

export type LegacyScenario = ReturnType<typeof legacyScenario>;

const PAYMENT_COLUMNS = [
	"master_pkey",
	"status",
	"plan",
	"payment_provider",
	"auto_renewing",
	"unredeemed_unix_ts_ms",
	"redeemed_unix_ts_ms",
	"expiry_unix_ts_ms",
	"grace_period_duration_ms",
	"platform_refund_expiry_unix_ts_ms",
	"revoked_unix_ts_ms",
	"apple_original_tx_id",
	"apple_tx_id",
	"apple_web_line_order_tx_id",
	"google_payment_token",
	"google_order_id",
	"rangeproof_order_id",
	"refund_requested_unix_ts_ms",
	"google_obfuscated_account_id",
] as const;

/** Each statement with `?` placeholders; the PostgreSQL writer numbers them. */
function inserts(scenario: LegacyScenario, asBoolean: (value: boolean) => unknown) {
	const statements: [string, unknown[]][] = [];
	const buffer = (bytes: Uint8Array | null) => (bytes === null ? null : Buffer.from(bytes));
	statements.push([
		"INSERT INTO runtime (gen_index, gen_index_salt, backend_key, last_expire_unix_ts_ms, apple_notification_checkpoint_unix_ts_ms, revocation_ticket) VALUES (?, ?, ?, ?, ?, 0)",
		[
			scenario.nextGenIndex,
			buffer(scenario.salt),
			buffer(scenario.backendSeed),
			scenario.nowMs - (scenario.nowMs % DAY_MS),
			scenario.appleCheckpointMs,
		],
	]);
	for (const payment of scenario.payments) {
		const row = payment as Record<string, unknown>;
		statements.push([
			`INSERT INTO payments (${PAYMENT_COLUMNS.join(", ")}) VALUES (${PAYMENT_COLUMNS.map(() => "?").join(", ")})`,
			PAYMENT_COLUMNS.map((column) => {
				const value = row[column] ?? null;
				if (value instanceof Uint8Array) return Buffer.from(value);
				return typeof value === "boolean" ? asBoolean(value) : value;
			}),
		]);
	}
	for (const user of scenario.users) {
		statements.push([
			"INSERT INTO users (master_pkey, gen_index, expiry_unix_ts_ms, grace_period_duration_ms, auto_renewing, refund_requested_unix_ts_ms, google_obfuscated_account_id, apple_app_account_token) VALUES (?, ?, ?, ?, ?, 0, ?, '')",
			[
				buffer(user.key.publicKey),
				user.gen_index,
				user.expiry,
				user.grace,
				asBoolean(user.auto_renewing),
				sha256(user.key.publicKey),
			],
		]);
	}
	for (const revocation of scenario.revocations) {
		statements.push([
			"INSERT INTO revocations (gen_index, creation_unix_ts_ms, expiry_unix_ts_ms) VALUES (?, ?, ?)",
			[revocation.gen_index, revocation.creation, revocation.expiry],
		]);
	}
	for (const apple of scenario.apple)
		statements.push([
			"INSERT INTO apple_notification_uuid_history (uuid, expiry_unix_ts_ms) VALUES (?, ?)",
			[apple.uuid, apple.expiry],
		]);
	for (const google of scenario.google)
		statements.push([
			"INSERT INTO google_notification_history (message_id, handled, payload, expiry_unix_ts_ms) VALUES (?, ?, ?, ?)",
			[Number(google.message_id), asBoolean(google.handled), google.payload, google.expiry],
		]);
	for (const error of scenario.userErrors)
		statements.push([
			"INSERT INTO user_errors (payment_id, payment_provider, unix_ts_ms) VALUES (?, ?, ?)",
			[error.payment_id, error.payment_provider, error.unix_ts_ms],
		]);
	return statements;
}

export interface LegacyBackendDatabase {
	readonly engine: "sqlite" | "postgres";
	/** What an operator passes to `tollgate entitlements import`. */
	readonly location: string;
	/** A connection string for PostgreSQL, for tests that lock a table; undefined on SQLite. */
	readonly url: string | undefined;
	drop(): Promise<void>;
}

export function legacyBackendEngines() {
	return [
		{ engine: "sqlite" as const, skip: false },
		{ engine: "postgres" as const, skip: postgresAdminUrl() === null },
	];
}

/** The backend's database on `engine` holding `scenario`, as the backend would have left it. */
export async function createLegacyBackend(
	engine: "sqlite" | "postgres",
	scenario: LegacyScenario,
	dir: string,
): Promise<LegacyBackendDatabase> {
	if (engine === "sqlite") {
		const path = join(dir, "backend.db");
		const db = new Database(path);
		db.pragma("journal_mode = WAL");
		db.exec(SQLITE_SCHEMA);
		const write = db.transaction(() => {
			for (const [text, values] of inserts(scenario, (value) => (value ? 1 : 0)))
				db.prepare(text).run(...values);
		});
		write();
		db.close();
		return { engine, location: path, url: undefined, drop: async () => {} };
	}
	const database = await createTestPostgresDatabase(postgresAdminUrl() ?? "");
	const client = new pg.Client({ connectionString: database.url });
	await client.connect();
	try {
		await client.query("BEGIN");
		await client.query(POSTGRES_SCHEMA);
		for (const [text, values] of inserts(scenario, (value) => value)) {
			let position = 0;
			await client.query(
				text.replace(/\?/g, () => `$${++position}`),
				values,
			);
		}
		await client.query("COMMIT");
	} finally {
		await client.end();
	}
	return {
		engine,
		location: database.url.replace(/^postgres:/, "postgresql:"),
		url: database.url,
		drop: () => database.drop(),
	};
}

export type { KeyPair };
