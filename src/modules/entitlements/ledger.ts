/**
 * The entitlements module's storage port: one transaction per state change, with the operations the use
 * cases need inside it. Implemented once for SQLite and PostgreSQL (src/storage/kysely/entitlement-ledger.ts).
 */
import type { PaymentProvider, ProPlan } from "./entitlement.ts";

export interface ProUser {
	readonly id: number;
	readonly masterPkey: Uint8Array;
	readonly currentGenerationId: number | null;
	readonly expiryAtMs: number;
	readonly gracePeriodMs: number | null;
	readonly autoRenewing: boolean;
	readonly proofExpiryOffsetSeconds: number;
}

export interface ProGeneration {
	readonly id: number;
	readonly userId: number;
	/** The revocation tag of every proof issued in this generation. */
	readonly token: Uint8Array;
	readonly issuedAtMs: number;
	readonly revokedAtMs: number | null;
}

export interface NewPayment {
	readonly provider: PaymentProvider;
	readonly plan: ProPlan;
	readonly externalId: string;
	readonly lineage: string;
	readonly claimKey: string | null;
	readonly autoRenewing: boolean;
	readonly purchasedAtMs: number;
	readonly expiryAtMs: number;
	readonly gracePeriodMs: number | null;
	readonly platformRefundExpiryAtMs: number;
}

export interface ProPayment extends NewPayment {
	readonly id: number;
	readonly userId: number | null;
	readonly redeemedAtMs: number | null;
	readonly revokedAtMs: number | null;
	/** When the holder asked the store for a refund (legacy v0 clients tell the backend); null if not. */
	readonly refundRequestedAtMs: number | null;
}

export interface UserEntitlementUpdate {
	readonly expiryAtMs: number;
	readonly gracePeriodMs: number | null;
	readonly autoRenewing: boolean;
	readonly proofExpiryOffsetSeconds: number;
}

export interface LedgerTransaction {
	findUser(masterPkey: Uint8Array): Promise<ProUser | null>;
	insertUser(masterPkey: Uint8Array, entitlement: UserEntitlementUpdate): Promise<ProUser>;
	updateUser(userId: number, entitlement: UserEntitlementUpdate): Promise<void>;

	insertGeneration(userId: number, token: Uint8Array, issuedAtMs: number): Promise<ProGeneration>;
	setCurrentGeneration(userId: number, generationId: number): Promise<void>;
	findGeneration(generationId: number): Promise<ProGeneration | null>;
	/** Revokes a live generation and bumps the revocation ticket; false if it was already revoked. */
	revokeGeneration(generationId: number, atMs: number): Promise<boolean>;

	/** Unclaimed, unrevoked payments matching one of the (provider, claim key) pairs. */
	unclaimedPaymentIds(
		claims: readonly { readonly provider: PaymentProvider; readonly claimKey: string }[],
	): Promise<number[]>;
	claimPayments(paymentIds: readonly number[], userId: number, redeemedAtMs: number): Promise<void>;
	insertPayment(payment: NewPayment): Promise<ProPayment>;
	revokePayments(paymentIds: readonly number[], atMs: number): Promise<void>;
	findPayment(provider: PaymentProvider, externalId: string): Promise<ProPayment | null>;
	/** Every payment of one subscription (a provider's lineage), newest first, any state. */
	paymentsOfLineage(provider: PaymentProvider, lineage: string): Promise<ProPayment[]>;
	updatePayment(
		paymentId: number,
		change: {
			readonly autoRenewing?: boolean;
			readonly expiryAtMs?: number;
			readonly gracePeriodMs?: number | null;
			readonly revokedAtMs?: number | null;
			readonly refundRequestedAtMs?: number | null;
		},
	): Promise<void>;
	findUserById(userId: number): Promise<ProUser | null>;
	/** Records a handled App Store notification; false when it was handled before. */
	recordAppleNotification(uuid: string, expiresAtMs: number): Promise<boolean>;
	/** Newest first (by registration). */
	paymentsOfUser(userId: number): Promise<ProPayment[]>;

	/** Records a Pub/Sub message id; false when that message was handled before. */
	recordGoogleNotification(messageId: string, eventAtMs: number): Promise<boolean>;
	/** Queues a purchase token for a look no later than `eligibleAtMs`, unparking it. */
	enqueueGoogleReconcile(purchaseToken: string, eligibleAtMs: number): Promise<void>;
	/** Remembers that Google must be told of this purchase. */
	requireGoogleAck(purchaseToken: string, productId: string, purchasedAtMs: number): Promise<void>;
}

/** A revocation brought over from the Python backend, listed on the legacy list only. */
export interface ImportedRevocation {
	readonly genIndex: number;
	/** When it takes effect from (0: from the start; older backends did not record it). */
	readonly createdAtMs: number;
	readonly listedUntilMs: number;
}

export interface GoogleReconcileClaim {
	readonly purchaseToken: string;
	readonly revision: number;
	/** Failed attempts before this one. */
	readonly attempts: number;
}

export interface PendingGoogleAck {
	readonly purchaseToken: string;
	readonly productId: string;
	readonly purchasedAtMs: number;
}

export interface EntitlementLedger {
	/** Runs `work` in one transaction: all of it is committed, or none. */
	transaction<T>(work: (tx: LedgerTransaction) => Promise<T>): Promise<T>;

	/**
	 * An account with its current generation (null without an account), and whether store payments wait
	 * to be claimed by one of `claims`, in one read.
	 */
	findAccount(
		masterPkey: Uint8Array,
		claims: readonly { readonly provider: PaymentProvider; readonly claimKey: string }[],
	): Promise<{
		readonly account: { readonly user: ProUser; readonly generation: ProGeneration | null } | null;
		readonly hasUnclaimedPayments: boolean;
	}>;

	revocationTicket(): Promise<number>;
	/** Generations revoked after `sinceMs`, oldest first. */
	revokedGenerationsSince(sinceMs: number): Promise<ProGeneration[]>;
	/** Forgets handled App Store notifications Apple can no longer resend. */
	pruneAppleNotifications(beforeMs: number): Promise<number>;
	/** Deletes revoked generations older than `beforeMs` that are no account's current one; returns how many. */
	pruneRevokedGenerations(beforeMs: number): Promise<number>;

	countPayments(userId: number): Promise<number>;
	/** A page of a user's payments, newest registration first, ids below `beforeId` when given. */
	paymentPage(userId: number, beforeId: number | null, limit: number): Promise<ProPayment[]>;
	/** Unrevoked before revoked, then newest purchase, then newest registration. */
	latestPayment(userId: number): Promise<ProPayment | null>;
	findUser(masterPkey: Uint8Array): Promise<ProUser | null>;

	/** Leases up to `limit` due, unparked tokens until `leaseUntilMs`, oldest eligibility first. */
	claimDueGoogleReconciles(
		nowMs: number,
		leaseUntilMs: number,
		limit: number,
	): Promise<GoogleReconcileClaim[]>;
	/** Drops the token from the queue unless a newer notification re-queued it meanwhile. */
	finishGoogleReconcile(claim: GoogleReconcileClaim): Promise<void>;
	failGoogleReconcile(
		claim: GoogleReconcileClaim,
		failure: { readonly retryAtMs: number; readonly error: string; readonly park: boolean },
	): Promise<void>;
	pendingGoogleAcks(): Promise<PendingGoogleAck[]>;
	clearGoogleAck(purchaseToken: string): Promise<void>;
	/** Where the App Store notification-history catch-up last read up to; null before its first run. */
	appleCatchUpCheckpoint(): Promise<number | null>;
	setAppleCatchUpCheckpoint(atMs: number): Promise<void>;
	/** The legacy protocol's generation-index salt: the stored one, or `fresh` stored now if there is none. */
	legacyGenIndexSalt(fresh: Uint8Array): Promise<Uint8Array>;
	/** The signing key seed imported from the Python backend, which its clients pin; null without an import. */
	importedBackendSeed(): Promise<Uint8Array | null>;
	/** Imported revocations still listed after `listedAfterMs`, by gen_index. */
	importedRevocations(listedAfterMs: number): Promise<ImportedRevocation[]>;
	/** Forgets imported revocations listed no later than `beforeMs`; the ticket stays (pruning never bumps it). */
	pruneImportedRevocations(beforeMs: number): Promise<number>;
	/** Forgets Pub/Sub message ids of events before `beforeMs` (past Pub/Sub's retention). */
	pruneGoogleNotifications(beforeMs: number): Promise<number>;
}
