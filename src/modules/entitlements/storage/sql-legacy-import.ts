/** Where `entitlements import` writes: Tollgate's Pro tables, in one transaction, on SQLite or PostgreSQL. */
import { type Kysely, sql, type Transaction } from "kysely";
import type { SqlDatabase } from "../../../storage/index.ts";
import type {
	ImportedPayment,
	ImportedUser,
	ImportTargetState,
	LegacyImportTarget,
	LegacyImportWriter,
} from "../legacy-import.ts";
import { LegacyImportError } from "../legacy-import.ts";
import { type EntitlementTables, type Tables, toFlag } from "./sql-entitlement-ledger.ts";

/** Rows per INSERT: well under both engines' limits on bound parameters. */
const BATCH_ROWS = 500;
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

function batches<T>(rows: readonly T[]): T[][] {
	const out: T[][] = [];
	for (let start = 0; start < rows.length; start += BATCH_ROWS)
		out.push(rows.slice(start, start + BATCH_ROWS));
	return out;
}

async function stateOf(db: Kysely<Tables> | Transaction<Tables>): Promise<ImportTargetState> {
	const count = async (table: "pro_users" | "pro_payments") =>
		Number(
			(
				await db
					.selectFrom(table)
					.select((eb) => eb.fn.countAll().as("count"))
					.executeTakeFirstOrThrow()
			).count,
		);
	const imported = await db
		.selectFrom("pro_legacy_import")
		.selectAll()
		.where("singleton", "=", 1)
		.executeTakeFirst();
	return {
		users: await count("pro_users"),
		payments: await count("pro_payments"),
		imported:
			imported === undefined
				? null
				: {
						backendSeed: new Uint8Array(imported.backend_seed),
						importedAtMs: Number(imported.imported_at_ms),
						summary: imported.summary,
					},
	};
}

class SqlLegacyImportWriter implements LegacyImportWriter {
	readonly #tx: Transaction<Tables>;
	readonly #dialect: SqlDatabase["dialect"];
	/** Master key (hex) → Tollgate user id, for binding payments. */
	readonly #userIds = new Map<string, number>();

	constructor(tx: Transaction<Tables>, dialect: SqlDatabase["dialect"]) {
		this.#tx = tx;
		this.#dialect = dialect;
	}

	state(): Promise<ImportTargetState> {
		return stateOf(this.#tx);
	}

	async insertUsers(users: readonly ImportedUser[]): Promise<void> {
		for (const batch of batches(users)) {
			const inserted = await this.#tx
				.insertInto("pro_users")
				.values(
					batch.map((user) => ({
						master_pkey: Buffer.from(user.masterPkey),
						current_generation_id: user.generationId,
						expiry_at_ms: user.expiryAtMs,
						grace_period_ms: user.gracePeriodMs,
						auto_renewing: toFlag(user.autoRenewing),
						proof_expiry_offset_s: user.proofExpiryOffsetSeconds,
					})),
				)
				.returning(["id", "master_pkey"])
				.execute();
			for (const row of inserted) this.#userIds.set(hex(row.master_pkey), Number(row.id));
			// The ids are the legacy gen_index: PostgreSQL's identity column takes them only when told to.
			const overriding = this.#dialect === "postgres" ? sql`OVERRIDING SYSTEM VALUE` : sql.raw("");
			const values = batch.map(
				(user) =>
					sql`(${user.generationId}, ${this.#userIdOf(user.masterPkey)}, ${Buffer.from(user.generationToken)}, ${user.generationIssuedAtMs}, ${user.generationRevokedAtMs})`,
			);
			await sql`INSERT INTO pro_generations (id, user_id, token, issued_at_ms, revoked_at_ms) ${overriding} VALUES ${sql.join(values)}`.execute(
				this.#tx,
			);
		}
	}

	#userIdOf(masterPkey: Uint8Array): number {
		const id = this.#userIds.get(hex(masterPkey));
		if (id === undefined)
			throw new LegacyImportError(
				`a payment is bound to master key ${hex(masterPkey)}, which has no row in users`,
			);
		return id;
	}

	async insertPayments(payments: readonly ImportedPayment[]): Promise<void> {
		for (const batch of batches(payments)) {
			await this.#tx
				.insertInto("pro_payments")
				.values(
					batch.map((payment) => ({
						user_id: payment.masterPkey === null ? null : this.#userIdOf(payment.masterPkey),
						provider: payment.provider,
						plan: payment.plan,
						external_id: payment.externalId,
						lineage: payment.lineage,
						claim_key: payment.claimKey,
						auto_renewing: toFlag(payment.autoRenewing),
						purchased_at_ms: payment.purchasedAtMs,
						redeemed_at_ms: payment.redeemedAtMs,
						expiry_at_ms: payment.expiryAtMs,
						grace_period_ms: payment.gracePeriodMs,
						platform_refund_expiry_at_ms: payment.platformRefundExpiryAtMs,
						revoked_at_ms: payment.revokedAtMs,
						refund_requested_at_ms: payment.refundRequestedAtMs,
					})),
				)
				.execute();
		}
	}

	async insertLegacyRevocations(
		revocations: readonly { genIndex: number; createdAtMs: number; listedUntilMs: number }[],
	): Promise<void> {
		for (const batch of batches(revocations)) {
			await this.#tx
				.insertInto("pro_legacy_revocations")
				.values(
					batch.map((row) => ({
						gen_index: row.genIndex,
						created_at_ms: row.createdAtMs,
						listed_until_ms: row.listedUntilMs,
					})),
				)
				.execute();
		}
	}

	async insertAppleNotifications(
		notifications: readonly { uuid: string; expiresAtMs: number }[],
	): Promise<void> {
		// The backend's history has no key: keep the latest expiry of a UUID seen twice.
		const latest = new Map<string, number>();
		for (const row of notifications)
			latest.set(row.uuid, Math.max(row.expiresAtMs, latest.get(row.uuid) ?? 0));
		for (const batch of batches([...latest])) {
			await this.#tx
				.insertInto("pro_apple_notifications")
				.values(batch.map(([uuid, expiresAtMs]) => ({ uuid, expires_at_ms: expiresAtMs })))
				.execute();
		}
	}

	async insertGoogleNotifications(
		notifications: readonly { messageId: string; eventAtMs: number }[],
	): Promise<void> {
		const unique = new Map(notifications.map((row) => [row.messageId, row.eventAtMs]));
		for (const batch of batches([...unique])) {
			await this.#tx
				.insertInto("pro_google_notifications")
				.values(
					batch.map(([messageId, eventAtMs]) => ({
						message_id: messageId,
						event_at_ms: eventAtMs,
					})),
				)
				.execute();
		}
	}

	async enqueueGoogleReconciles(purchaseTokens: readonly string[], eligibleAtMs: number) {
		for (const batch of batches(purchaseTokens)) {
			await this.#tx
				.insertInto("pro_google_reconciles")
				.values(
					batch.map((token) => ({
						purchase_token: token,
						revision: 1,
						eligible_at_ms: eligibleAtMs,
						lease_until_ms: 0,
						attempts: 0,
					})),
				)
				.execute();
		}
	}

	async reserveGenerationIdsBelow(nextGenerationId: number): Promise<void> {
		if (!Number.isSafeInteger(nextGenerationId) || nextGenerationId < 1)
			throw new LegacyImportError(`next gen_index ${nextGenerationId} is out of range`);
		if (this.#dialect === "postgres") {
			// ALTER … RESTART is transactional, unlike setval: a failed import leaves the identity as it was.
			await sql`ALTER TABLE pro_generations ALTER COLUMN id RESTART WITH ${sql.raw(String(nextGenerationId))}`.execute(
				this.#tx,
			);
			return;
		}
		const updated =
			await sql`UPDATE sqlite_sequence SET seq = max(seq, ${nextGenerationId - 1}) WHERE name = 'pro_generations'`.execute(
				this.#tx,
			);
		if (Number(updated.numAffectedRows ?? 0) === 0)
			await sql`INSERT INTO sqlite_sequence (name, seq) VALUES ('pro_generations', ${nextGenerationId - 1})`.execute(
				this.#tx,
			);
	}

	async finish(record: {
		backendSeed: Uint8Array;
		genIndexSalt: Uint8Array;
		revocationTicket: number;
		appleCheckpointMs: number | null;
		importedAtMs: number;
		summary: string;
	}): Promise<void> {
		// An empty ledger has no generation a stored salt could have named: the backend's replaces it.
		await this.#tx.deleteFrom("pro_legacy_runtime").execute();
		await this.#tx
			.insertInto("pro_legacy_runtime")
			.values({ singleton: 1, gen_index_salt: Buffer.from(record.genIndexSalt) })
			.execute();
		await this.#tx
			.updateTable("pro_revocation_ticket")
			.set({ ticket: record.revocationTicket })
			.where("singleton", "=", 1)
			.execute();
		if (record.appleCheckpointMs !== null) {
			const checkpoint = record.appleCheckpointMs;
			await this.#tx
				.insertInto("pro_apple_catch_up")
				.values({ singleton: 1, checkpoint_ms: checkpoint })
				.onConflict((conflict) =>
					conflict.column("singleton").doUpdateSet({ checkpoint_ms: checkpoint }),
				)
				.execute();
		}
		await this.#tx
			.insertInto("pro_legacy_import")
			.values({
				singleton: 1,
				backend_seed: Buffer.from(record.backendSeed),
				imported_at_ms: record.importedAtMs,
				summary: record.summary,
			})
			.execute();
	}
}

export class SqlLegacyImportTarget implements LegacyImportTarget {
	readonly #database: SqlDatabase;
	readonly #db: Kysely<Tables>;

	constructor(database: SqlDatabase) {
		this.#database = database;
		this.#db = database.db.withTables<EntitlementTables>();
	}

	state(): Promise<ImportTargetState> {
		return stateOf(this.#db);
	}

	write<T>(work: (writer: LegacyImportWriter) => Promise<T>): Promise<T> {
		return this.#db
			.transaction()
			.execute((tx) => work(new SqlLegacyImportWriter(tx, this.#database.dialect)));
	}
}
