/** The entitlements module's ledger in SQL; one implementation for SQLite and PostgreSQL. */
import { type Generated, type Kysely, type Selectable, sql, type Transaction } from "kysely";
import type { FoundationTables, SqlDatabase } from "../../../storage/index.ts";
import type { PaymentProvider, ProPlan } from "../entitlement.ts";
import type {
	EntitlementLedger,
	GoogleReconcileClaim,
	ImportedRevocation,
	LedgerTransaction,
	NewPayment,
	PendingGoogleAck,
	ProGeneration,
	ProPayment,
	ProUser,
	UserEntitlementUpdate,
} from "../ledger.ts";

/** PostgreSQL returns BIGINT as text and BOOLEAN as boolean; SQLite returns numbers for both. */
type Int = number | string;
type Bool = number | boolean;

export type EntitlementTables = {
	pro_users: {
		id: Generated<Int>;
		master_pkey: Uint8Array;
		current_generation_id: Int | null;
		expiry_at_ms: Int;
		grace_period_ms: Int | null;
		auto_renewing: Bool;
		proof_expiry_offset_s: number;
	};
	pro_generations: {
		id: Generated<Int>;
		user_id: Int;
		token: Uint8Array;
		issued_at_ms: Int;
		revoked_at_ms: Int | null;
	};
	pro_payments: {
		id: Generated<Int>;
		user_id: Int | null;
		provider: PaymentProvider;
		plan: ProPlan;
		external_id: string;
		lineage: string;
		claim_key: string | null;
		auto_renewing: Bool;
		purchased_at_ms: Int;
		redeemed_at_ms: Int | null;
		expiry_at_ms: Int;
		grace_period_ms: Int | null;
		platform_refund_expiry_at_ms: Int;
		revoked_at_ms: Int | null;
		refund_requested_at_ms: Generated<Int | null>;
	};
	pro_revocation_ticket: { singleton: number; ticket: Int };
	pro_apple_notifications: { uuid: string; expires_at_ms: Int };
	pro_google_notifications: { message_id: string; event_at_ms: Int };
	pro_apple_catch_up: { singleton: number; checkpoint_ms: Int };
	pro_legacy_runtime: { singleton: number; gen_index_salt: Uint8Array };
	pro_legacy_revocations: { gen_index: Int; created_at_ms: Int; listed_until_ms: Int };
	pro_legacy_import: {
		singleton: number;
		backend_seed: Uint8Array;
		imported_at_ms: Int;
		summary: string;
	};
	pro_google_reconciles: {
		purchase_token: string;
		revision: Int;
		eligible_at_ms: Int;
		lease_until_ms: Int;
		attempts: number;
		last_error: string | null;
		parked_at_ms: Int | null;
	};
	pro_google_acks: { purchase_token: string; product_id: string; purchased_at_ms: Int };
};

export type Tables = FoundationTables & EntitlementTables;
type Db = Kysely<Tables> | Transaction<Tables>;
type UserRow = Selectable<EntitlementTables["pro_users"]>;
type GenerationRow = Selectable<EntitlementTables["pro_generations"]>;
type PaymentRow = Selectable<EntitlementTables["pro_payments"]>;

const toNumber = (value: Int) => Number(value);
const toNullableNumber = (value: Int | null) => (value === null ? null : Number(value));
/** 0/1: SQLite has no booleans, and PostgreSQL reads "1" and "0" as booleans. */
/** A boolean column's value on both engines (PostgreSQL casts 1/0 to BOOLEAN). */
export const toFlag = (value: boolean) => (value ? 1 : 0);

function userOf(row: UserRow): ProUser {
	return {
		id: toNumber(row.id),
		masterPkey: new Uint8Array(row.master_pkey),
		currentGenerationId: toNullableNumber(row.current_generation_id),
		expiryAtMs: toNumber(row.expiry_at_ms),
		gracePeriodMs: toNullableNumber(row.grace_period_ms),
		autoRenewing: Boolean(row.auto_renewing),
		proofExpiryOffsetSeconds: row.proof_expiry_offset_s,
	};
}

function generationOf(row: GenerationRow): ProGeneration {
	return {
		id: toNumber(row.id),
		userId: toNumber(row.user_id),
		token: new Uint8Array(row.token),
		issuedAtMs: toNumber(row.issued_at_ms),
		revokedAtMs: toNullableNumber(row.revoked_at_ms),
	};
}

function paymentOf(row: PaymentRow): ProPayment {
	return {
		id: toNumber(row.id),
		userId: toNullableNumber(row.user_id),
		provider: row.provider,
		plan: row.plan,
		externalId: row.external_id,
		lineage: row.lineage,
		claimKey: row.claim_key,
		autoRenewing: Boolean(row.auto_renewing),
		purchasedAtMs: toNumber(row.purchased_at_ms),
		redeemedAtMs: toNullableNumber(row.redeemed_at_ms),
		expiryAtMs: toNumber(row.expiry_at_ms),
		gracePeriodMs: toNullableNumber(row.grace_period_ms),
		platformRefundExpiryAtMs: toNumber(row.platform_refund_expiry_at_ms),
		refundRequestedAtMs: toNullableNumber(row.refund_requested_at_ms),
		revokedAtMs: toNullableNumber(row.revoked_at_ms),
	};
}

function entitlementColumns(update: UserEntitlementUpdate) {
	return {
		expiry_at_ms: update.expiryAtMs,
		grace_period_ms: update.gracePeriodMs,
		auto_renewing: toFlag(update.autoRenewing),
		proof_expiry_offset_s: update.proofExpiryOffsetSeconds,
	};
}

type Claim = { readonly provider: PaymentProvider; readonly claimKey: string };

function unclaimedPayments(db: Db, claims: readonly Claim[]) {
	return db
		.selectFrom("pro_payments")
		.where("user_id", "is", null)
		.where("revoked_at_ms", "is", null)
		.where((eb) =>
			eb.or(
				claims.map((claim) =>
					eb.and([eb("provider", "=", claim.provider), eb("claim_key", "=", claim.claimKey)]),
				),
			),
		);
}

async function findUserIn(db: Db, masterPkey: Uint8Array): Promise<ProUser | null> {
	const row = await db
		.selectFrom("pro_users")
		.selectAll()
		.where("master_pkey", "=", Buffer.from(masterPkey))
		.executeTakeFirst();
	return row === undefined ? null : userOf(row);
}

class SqlLedgerTransaction implements LedgerTransaction {
	readonly #tx: Transaction<Tables>;

	constructor(tx: Transaction<Tables>) {
		this.#tx = tx;
	}

	findUser(masterPkey: Uint8Array): Promise<ProUser | null> {
		return findUserIn(this.#tx, masterPkey);
	}

	async insertUser(masterPkey: Uint8Array, entitlement: UserEntitlementUpdate): Promise<ProUser> {
		const row = await this.#tx
			.insertInto("pro_users")
			.values({ master_pkey: Buffer.from(masterPkey), ...entitlementColumns(entitlement) })
			.returningAll()
			.executeTakeFirstOrThrow();
		return userOf(row);
	}

	async updateUser(userId: number, entitlement: UserEntitlementUpdate): Promise<void> {
		await this.#tx
			.updateTable("pro_users")
			.set(entitlementColumns(entitlement))
			.where("id", "=", userId)
			.execute();
	}

	async insertGeneration(
		userId: number,
		token: Uint8Array,
		issuedAtMs: number,
	): Promise<ProGeneration> {
		const row = await this.#tx
			.insertInto("pro_generations")
			.values({ user_id: userId, token: Buffer.from(token), issued_at_ms: issuedAtMs })
			.returningAll()
			.executeTakeFirstOrThrow();
		return generationOf(row);
	}

	async setCurrentGeneration(userId: number, generationId: number): Promise<void> {
		await this.#tx
			.updateTable("pro_users")
			.set({ current_generation_id: generationId })
			.where("id", "=", userId)
			.execute();
	}

	async findGeneration(generationId: number): Promise<ProGeneration | null> {
		const row = await this.#tx
			.selectFrom("pro_generations")
			.selectAll()
			.where("id", "=", generationId)
			.executeTakeFirst();
		return row === undefined ? null : generationOf(row);
	}

	async revokeGeneration(generationId: number, atMs: number): Promise<boolean> {
		const revoked = await this.#tx
			.updateTable("pro_generations")
			.set({ revoked_at_ms: atMs })
			.where("id", "=", generationId)
			.where("revoked_at_ms", "is", null)
			.executeTakeFirst();
		if (Number(revoked.numUpdatedRows) === 0) return false;
		await this.#tx
			.updateTable("pro_revocation_ticket")
			.set({ ticket: sql`ticket + 1` })
			.where("singleton", "=", 1)
			.execute();
		return true;
	}

	async unclaimedPaymentIds(claims: readonly Claim[]): Promise<number[]> {
		if (claims.length === 0) return [];
		const rows = await unclaimedPayments(this.#tx, claims).select("id").orderBy("id").execute();
		return rows.map((row) => toNumber(row.id));
	}

	async claimPayments(
		paymentIds: readonly number[],
		userId: number,
		redeemedAtMs: number,
	): Promise<void> {
		if (paymentIds.length === 0) return;
		await this.#tx
			.updateTable("pro_payments")
			.set({ user_id: userId, redeemed_at_ms: redeemedAtMs })
			.where("id", "in", paymentIds)
			.where("user_id", "is", null)
			.execute();
	}

	async insertPayment(payment: NewPayment): Promise<ProPayment> {
		const row = await this.#tx
			.insertInto("pro_payments")
			.values({
				provider: payment.provider,
				plan: payment.plan,
				external_id: payment.externalId,
				lineage: payment.lineage,
				claim_key: payment.claimKey,
				auto_renewing: toFlag(payment.autoRenewing),
				purchased_at_ms: payment.purchasedAtMs,
				expiry_at_ms: payment.expiryAtMs,
				grace_period_ms: payment.gracePeriodMs,
				platform_refund_expiry_at_ms: payment.platformRefundExpiryAtMs,
			})
			.returningAll()
			.executeTakeFirstOrThrow();
		return paymentOf(row);
	}

	async revokePayments(paymentIds: readonly number[], atMs: number): Promise<void> {
		if (paymentIds.length === 0) return;
		await this.#tx
			.updateTable("pro_payments")
			.set({ revoked_at_ms: atMs, auto_renewing: 0 })
			.where("id", "in", paymentIds)
			.where("revoked_at_ms", "is", null)
			.execute();
	}

	async findPayment(provider: PaymentProvider, externalId: string): Promise<ProPayment | null> {
		const row = await this.#tx
			.selectFrom("pro_payments")
			.selectAll()
			.where("provider", "=", provider)
			.where("external_id", "=", externalId)
			.executeTakeFirst();
		return row === undefined ? null : paymentOf(row);
	}

	async paymentsOfLineage(provider: PaymentProvider, lineage: string): Promise<ProPayment[]> {
		const rows = await this.#tx
			.selectFrom("pro_payments")
			.selectAll()
			.where("provider", "=", provider)
			.where("lineage", "=", lineage)
			.orderBy("id", "desc")
			.execute();
		return rows.map(paymentOf);
	}

	async updatePayment(
		paymentId: number,
		change: {
			readonly autoRenewing?: boolean;
			readonly expiryAtMs?: number;
			readonly gracePeriodMs?: number | null;
			readonly revokedAtMs?: number | null;
			readonly refundRequestedAtMs?: number | null;
		},
	): Promise<void> {
		await this.#tx
			.updateTable("pro_payments")
			.set({
				...(change.refundRequestedAtMs === undefined
					? {}
					: { refund_requested_at_ms: change.refundRequestedAtMs }),
				...(change.autoRenewing === undefined
					? {}
					: { auto_renewing: toFlag(change.autoRenewing) }),
				...(change.expiryAtMs === undefined ? {} : { expiry_at_ms: change.expiryAtMs }),
				...(change.gracePeriodMs === undefined ? {} : { grace_period_ms: change.gracePeriodMs }),
				...(change.revokedAtMs === undefined ? {} : { revoked_at_ms: change.revokedAtMs }),
			})
			.where("id", "=", paymentId)
			.execute();
	}

	async findUserById(userId: number): Promise<ProUser | null> {
		const row = await this.#tx
			.selectFrom("pro_users")
			.selectAll()
			.where("id", "=", userId)
			.executeTakeFirst();
		return row === undefined ? null : userOf(row);
	}

	async recordAppleNotification(uuid: string, expiresAtMs: number): Promise<boolean> {
		const inserted = await this.#tx
			.insertInto("pro_apple_notifications")
			.values({ uuid, expires_at_ms: expiresAtMs })
			.onConflict((conflict) => conflict.column("uuid").doNothing())
			.executeTakeFirst();
		return Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0;
	}

	async paymentsOfUser(userId: number): Promise<ProPayment[]> {
		const rows = await this.#tx
			.selectFrom("pro_payments")
			.selectAll()
			.where("user_id", "=", userId)
			.orderBy("id", "desc")
			.execute();
		return rows.map(paymentOf);
	}

	async recordGoogleNotification(messageId: string, eventAtMs: number): Promise<boolean> {
		const inserted = await this.#tx
			.insertInto("pro_google_notifications")
			.values({ message_id: messageId, event_at_ms: eventAtMs })
			.onConflict((conflict) => conflict.column("message_id").doNothing())
			.executeTakeFirst();
		return Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0;
	}

	async enqueueGoogleReconcile(purchaseToken: string, eligibleAtMs: number): Promise<void> {
		await this.#tx
			.insertInto("pro_google_reconciles")
			.values({
				purchase_token: purchaseToken,
				revision: 1,
				eligible_at_ms: eligibleAtMs,
				lease_until_ms: 0,
				attempts: 0,
			})
			.onConflict((conflict) =>
				conflict.column("purchase_token").doUpdateSet({
					revision: sql`pro_google_reconciles.revision + 1`,
					eligible_at_ms: sql`CASE WHEN excluded.eligible_at_ms < pro_google_reconciles.eligible_at_ms THEN excluded.eligible_at_ms ELSE pro_google_reconciles.eligible_at_ms END`,
					attempts: 0,
					parked_at_ms: null,
				}),
			)
			.execute();
	}

	async requireGoogleAck(
		purchaseToken: string,
		productId: string,
		purchasedAtMs: number,
	): Promise<void> {
		await this.#tx
			.insertInto("pro_google_acks")
			.values({
				purchase_token: purchaseToken,
				product_id: productId,
				purchased_at_ms: purchasedAtMs,
			})
			.onConflict((conflict) => conflict.column("purchase_token").doNothing())
			.execute();
	}
}

type AccountRow = UserRow & {
	generation_token: Uint8Array | null;
	generation_issued_at_ms: Int | null;
	generation_revoked_at_ms: Int | null;
	has_unclaimed: Bool;
};

export class SqlEntitlementLedger implements EntitlementLedger {
	readonly #database: SqlDatabase;
	readonly #db: Kysely<Tables>;
	/** The account read, prepared once per number of claims (clients send the same every time). */
	readonly #accountReads = new Map<number, (...parameters: unknown[]) => Promise<AccountRow[]>>();

	constructor(database: SqlDatabase) {
		this.#database = database;
		this.#db = database.db.withTables<EntitlementTables>();
	}

	/**
	 * Every signed request starts here: one statement run straight on the engine, anchored on a one-row
	 * table so that pending payments are seen before the account exists. Parameters: each claim's provider
	 * and claim key, then the master key.
	 */
	#accountRead(claimCount: number) {
		let read = this.#accountReads.get(claimCount);
		if (read === undefined) {
			const claimed =
				claimCount === 0
					? sql`FALSE`
					: sql.join(
							Array.from(
								{ length: claimCount },
								() => sql`(p.provider = ${""} AND p.claim_key = ${""})`,
							),
							sql` OR `,
						);
			const query =
				sql<AccountRow>`SELECT u.id, u.master_pkey, u.current_generation_id, u.expiry_at_ms,
					u.grace_period_ms, u.auto_renewing, u.proof_expiry_offset_s,
					g.token AS generation_token, g.issued_at_ms AS generation_issued_at_ms,
					g.revoked_at_ms AS generation_revoked_at_ms,
					EXISTS (SELECT 1 FROM pro_payments p
						WHERE p.user_id IS NULL AND p.revoked_at_ms IS NULL AND (${claimed})) AS has_unclaimed
				FROM (SELECT 1 AS anchor) AS anchor
				LEFT JOIN pro_users u ON u.master_pkey = ${Buffer.alloc(0)}
				LEFT JOIN pro_generations g ON g.id = u.current_generation_id`.compile(this.#db);
			read = this.#database.preparedRead(query);
			this.#accountReads.set(claimCount, read);
		}
		return read;
	}

	transaction<T>(work: (tx: LedgerTransaction) => Promise<T>): Promise<T> {
		return this.#db.transaction().execute((tx) => work(new SqlLedgerTransaction(tx)));
	}

	async findAccount(
		masterPkey: Uint8Array,
		claims: readonly Claim[],
	): Promise<{
		readonly account: { readonly user: ProUser; readonly generation: ProGeneration | null } | null;
		readonly hasUnclaimedPayments: boolean;
	}> {
		const rows = await this.#accountRead(claims.length)(
			...claims.flatMap((claim) => [claim.provider, claim.claimKey]),
			Buffer.from(masterPkey),
		);
		const row = rows[0];
		const hasUnclaimedPayments = Boolean(row?.has_unclaimed);
		if (row?.id == null) return { account: null, hasUnclaimedPayments };
		const user = userOf(row);
		const generation =
			user.currentGenerationId === null ||
			row.generation_token === null ||
			row.generation_issued_at_ms === null
				? null
				: generationOf({
						id: user.currentGenerationId,
						user_id: row.id,
						token: row.generation_token,
						issued_at_ms: row.generation_issued_at_ms,
						revoked_at_ms: row.generation_revoked_at_ms,
					});
		return { account: { user, generation }, hasUnclaimedPayments };
	}

	async revocationTicket(): Promise<number> {
		const row = await this.#db
			.selectFrom("pro_revocation_ticket")
			.select("ticket")
			.where("singleton", "=", 1)
			.executeTakeFirstOrThrow();
		return toNumber(row.ticket);
	}

	async revokedGenerationsSince(sinceMs: number): Promise<ProGeneration[]> {
		const rows = await this.#db
			.selectFrom("pro_generations")
			.selectAll()
			.where("revoked_at_ms", ">", sinceMs)
			.orderBy("revoked_at_ms")
			.orderBy("id")
			.execute();
		return rows.map(generationOf);
	}

	async pruneAppleNotifications(beforeMs: number): Promise<number> {
		const result = await this.#db
			.deleteFrom("pro_apple_notifications")
			.where("expires_at_ms", "<=", beforeMs)
			.executeTakeFirst();
		return Number(result.numDeletedRows);
	}

	async pruneRevokedGenerations(beforeMs: number): Promise<number> {
		const result = await this.#db
			.deleteFrom("pro_generations")
			.where("revoked_at_ms", "<=", beforeMs)
			.where("id", "not in", (eb) =>
				eb
					.selectFrom("pro_users")
					.select("current_generation_id")
					.where("current_generation_id", "is not", null)
					.$narrowType<{ current_generation_id: Int }>(),
			)
			.executeTakeFirst();
		return Number(result.numDeletedRows);
	}

	async countPayments(userId: number): Promise<number> {
		const row = await this.#db
			.selectFrom("pro_payments")
			.select((eb) => eb.fn.countAll().as("count"))
			.where("user_id", "=", userId)
			.executeTakeFirstOrThrow();
		return Number(row.count);
	}

	async paymentPage(userId: number, beforeId: number | null, limit: number): Promise<ProPayment[]> {
		let query = this.#db.selectFrom("pro_payments").selectAll().where("user_id", "=", userId);
		if (beforeId !== null) query = query.where("id", "<", beforeId);
		const rows = await query
			.orderBy("id", "desc")
			.limit(Math.min(limit, Number.MAX_SAFE_INTEGER))
			.execute();
		return rows.map(paymentOf);
	}

	async latestPayment(userId: number): Promise<ProPayment | null> {
		const row = await this.#db
			.selectFrom("pro_payments")
			.selectAll()
			.where("user_id", "=", userId)
			.orderBy(sql`CASE WHEN revoked_at_ms IS NULL THEN 0 ELSE 1 END`)
			.orderBy("purchased_at_ms", "desc")
			.orderBy("id", "desc")
			.limit(1)
			.executeTakeFirst();
		return row === undefined ? null : paymentOf(row);
	}

	findUser(masterPkey: Uint8Array): Promise<ProUser | null> {
		return findUserIn(this.#db, masterPkey);
	}

	claimDueGoogleReconciles(
		nowMs: number,
		leaseUntilMs: number,
		limit: number,
	): Promise<GoogleReconcileClaim[]> {
		return this.#db.transaction().execute(async (tx) => {
			const due = await tx
				.selectFrom("pro_google_reconciles")
				.select(["purchase_token", "revision", "attempts"])
				.where("eligible_at_ms", "<=", nowMs)
				.where("lease_until_ms", "<=", nowMs)
				.where("parked_at_ms", "is", null)
				.orderBy("eligible_at_ms")
				.limit(limit)
				.execute();
			const claims: GoogleReconcileClaim[] = [];
			for (const row of due) {
				const leased = await tx
					.updateTable("pro_google_reconciles")
					.set({ lease_until_ms: leaseUntilMs })
					.where("purchase_token", "=", row.purchase_token)
					.where("lease_until_ms", "<=", nowMs)
					.executeTakeFirst();
				if (Number(leased.numUpdatedRows) === 1)
					claims.push({
						purchaseToken: row.purchase_token,
						revision: toNumber(row.revision),
						attempts: row.attempts,
					});
			}
			return claims;
		});
	}

	async finishGoogleReconcile(claim: GoogleReconcileClaim): Promise<void> {
		await this.#db
			.deleteFrom("pro_google_reconciles")
			.where("purchase_token", "=", claim.purchaseToken)
			.where("revision", "=", claim.revision)
			.execute();
		await this.#releaseGoogleReconcile(claim.purchaseToken);
	}

	/** A token re-queued while it was leased is due again at once rather than when the lease lapses. */
	async #releaseGoogleReconcile(purchaseToken: string): Promise<void> {
		await this.#db
			.updateTable("pro_google_reconciles")
			.set({ lease_until_ms: 0 })
			.where("purchase_token", "=", purchaseToken)
			.execute();
	}

	async failGoogleReconcile(
		claim: GoogleReconcileClaim,
		failure: { readonly retryAtMs: number; readonly error: string; readonly park: boolean },
	): Promise<void> {
		await this.#db
			.updateTable("pro_google_reconciles")
			.set({
				attempts: claim.attempts + 1,
				eligible_at_ms: failure.retryAtMs,
				lease_until_ms: 0,
				last_error: failure.error,
				parked_at_ms: failure.park ? failure.retryAtMs : null,
			})
			.where("purchase_token", "=", claim.purchaseToken)
			.where("revision", "=", claim.revision)
			.execute();
		await this.#releaseGoogleReconcile(claim.purchaseToken);
	}

	async pendingGoogleAcks(): Promise<PendingGoogleAck[]> {
		const rows = await this.#db
			.selectFrom("pro_google_acks")
			.selectAll()
			.orderBy("purchased_at_ms")
			.execute();
		return rows.map((row) => ({
			purchaseToken: row.purchase_token,
			productId: row.product_id,
			purchasedAtMs: toNumber(row.purchased_at_ms),
		}));
	}

	async clearGoogleAck(purchaseToken: string): Promise<void> {
		await this.#db
			.deleteFrom("pro_google_acks")
			.where("purchase_token", "=", purchaseToken)
			.execute();
	}

	async appleCatchUpCheckpoint(): Promise<number | null> {
		const row = await this.#db
			.selectFrom("pro_apple_catch_up")
			.select("checkpoint_ms")
			.where("singleton", "=", 1)
			.executeTakeFirst();
		return row === undefined ? null : toNumber(row.checkpoint_ms);
	}

	async setAppleCatchUpCheckpoint(atMs: number): Promise<void> {
		await this.#db
			.insertInto("pro_apple_catch_up")
			.values({ singleton: 1, checkpoint_ms: atMs })
			.onConflict((conflict) => conflict.column("singleton").doUpdateSet({ checkpoint_ms: atMs }))
			.execute();
	}

	async legacyGenIndexSalt(fresh: Uint8Array): Promise<Uint8Array> {
		await this.#db
			.insertInto("pro_legacy_runtime")
			.values({ singleton: 1, gen_index_salt: fresh })
			.onConflict((conflict) => conflict.column("singleton").doNothing())
			.execute();
		const row = await this.#db
			.selectFrom("pro_legacy_runtime")
			.select("gen_index_salt")
			.where("singleton", "=", 1)
			.executeTakeFirstOrThrow();
		return new Uint8Array(row.gen_index_salt);
	}

	async importedBackendSeed(): Promise<Uint8Array | null> {
		const row = await this.#db
			.selectFrom("pro_legacy_import")
			.select("backend_seed")
			.where("singleton", "=", 1)
			.executeTakeFirst();
		return row === undefined ? null : new Uint8Array(row.backend_seed);
	}

	async importedRevocations(listedAfterMs: number): Promise<ImportedRevocation[]> {
		const rows = await this.#db
			.selectFrom("pro_legacy_revocations")
			.selectAll()
			.where("listed_until_ms", ">", listedAfterMs)
			.orderBy("gen_index")
			.execute();
		return rows.map((row) => ({
			genIndex: toNumber(row.gen_index),
			createdAtMs: toNumber(row.created_at_ms),
			listedUntilMs: toNumber(row.listed_until_ms),
		}));
	}

	async pruneImportedRevocations(beforeMs: number): Promise<number> {
		const result = await this.#db
			.deleteFrom("pro_legacy_revocations")
			.where("listed_until_ms", "<=", beforeMs)
			.executeTakeFirst();
		return Number(result.numDeletedRows);
	}

	async pruneGoogleNotifications(beforeMs: number): Promise<number> {
		const result = await this.#db
			.deleteFrom("pro_google_notifications")
			.where("event_at_ms", "<", beforeMs)
			.executeTakeFirst();
		return Number(result.numDeletedRows);
	}
}
