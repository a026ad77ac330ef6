/**
 * The Session Pro use cases (specs/session-pro.md §2, upstream 0.3.0): proofs for rotating keys, account
 * status, payment history, the revocation list, and the operator's and dev mode's payments. Payments bind
 * to a master key implicitly: every master-signed request first claims the account's unclaimed store
 * payments. Every state change runs in one ledger transaction.
 */
import { createHash, randomBytes, randomUUID, sign } from "node:crypto";
import type { Clock } from "#lib/clock";
import { type Ed25519KeyPair, verifiesEd25519 } from "#lib/ed25519";
import {
	type AccountEntitlement,
	coverageEnd,
	DAY_MS,
	foldEntitlement,
	MAX_PROOF_LIFETIME_MS,
	type PaymentProvider,
	PLAN_DURATION_MS,
	type ProPlan,
	proofExpiryMs,
	REVOCATION_EFFECTIVE_DELAY_MS,
	REVOCATION_RETAIN_FOR_MS,
	REVOCATION_RETRY_IN_S,
	SECOND_MS,
	TIMESTAMP_TOLERANCE_MS,
} from "./entitlement.ts";
import type {
	EntitlementLedger,
	LedgerTransaction,
	NewPayment,
	ProPayment,
	ProUser,
} from "./ledger.ts";
import { type PaymentCursor, paymentCursor } from "./payment-cursor.ts";
import {
	BACKEND_VERSION,
	generateProofMessage,
	getPaymentDetailsMessage,
	getProStatusMessage,
	ProtocolError,
	proofMessage,
} from "./protocol.ts";

const PAGE_CAP = 100;
const TAG_BYTES = 32;

export interface EntitlementSettings {
	/** Store renewals land late: a renewing account stays covered this long past its grace. */
	readonly renewalAllowanceMs: number;
}

export interface MasterSigned {
	readonly masterPkey: Uint8Array;
	readonly masterSig: Uint8Array;
	readonly ts: number;
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const seconds = (ms: number) => Math.floor(ms / SECOND_MS);

/** Enough of a key to tell accounts apart in an error without repeating the whole identifier. */
const shortKey = (key: Uint8Array) => `${hex(key).slice(0, 8)}…`;

/**
 * The appAccountToken an iOS client sets at purchase: the master key's first 16 bytes as a version-4
 * UUID (upstream providers/app_store.py uuid_from_master_pk), lowercase.
 */
export function appAccountTokenFor(masterPkey: Uint8Array): string {
	const bytes = Buffer.from(masterPkey.subarray(0, 16));
	bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
	bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
	const text = bytes.toString("hex");
	return `${text.slice(0, 8)}-${text.slice(8, 12)}-${text.slice(12, 16)}-${text.slice(16, 20)}-${text.slice(20)}`;
}

/**
 * The obfuscated account id the Android client sets at purchase: hex(SHA-256(master key)), as upstream
 * binds it (backend.py `google_obfuscated_account_id_from_master_pkey`).
 */
export function googleAccountIdFor(masterPkey: Uint8Array): string {
	return createHash("sha256").update(masterPkey).digest("hex");
}

/**
 * The claims a master key makes: a Google purchase names it by `googleAccountIdFor`, or by the key in
 * hex (what Tollgate 0.2 bound on, so purchases it recorded still reach their accounts); an App Store
 * purchase by the appAccountToken UUID.
 */
export function claimsOf(masterPkey: Uint8Array) {
	return [
		{ provider: "google_play" as const, claimKey: googleAccountIdFor(masterPkey) },
		{ provider: "google_play" as const, claimKey: hex(masterPkey) },
		{ provider: "app_store" as const, claimKey: appAccountTokenFor(masterPkey) },
	];
}

function randomProofExpiryOffset(): number {
	return Number(randomBytes(8).readBigUInt64BE() % 86_400n);
}

type PaymentStatus = "redeemed" | "expired" | "revoked";

function paymentStatus(payment: ProPayment, atMs: number): PaymentStatus {
	if (payment.revokedAtMs !== null) return "revoked";
	return atMs >= payment.expiryAtMs ? "expired" : "redeemed";
}

/** A payment as the wire shows it; purchase and revocation times are float seconds, as upstream sends them. */
function paymentItem(payment: ProPayment, atMs: number) {
	return {
		status: paymentStatus(payment, atMs),
		plan: payment.plan,
		payment_provider: payment.provider,
		auto_renewing: payment.autoRenewing,
		purchased_ts: payment.purchasedAtMs / SECOND_MS,
		expiry_ts: seconds(payment.expiryAtMs),
		grace_period_duration: seconds(payment.gracePeriodMs ?? 0),
		platform_refund_expiry_ts: seconds(payment.platformRefundExpiryAtMs),
		revoked_ts: payment.revokedAtMs === null ? 0 : payment.revokedAtMs / SECOND_MS,
		payment_id: payment.externalId,
	};
}

/** A renewal reported after its subscription lapsed still binds to the holder within this window. */
const GOOGLE_ACCOUNT_HOLD_MS = 60 * DAY_MS;

/**
 * What a store notification may do to the ledger, all inside one transaction with the notification's own
 * bookkeeping. Each change recomputes the accounts it touches; a revoked subscription also revokes their
 * current proofs when the account's coverage shrank by more than a proof could outlive.
 */
export interface StoreEvents {
	/** A purchase or renewal; false when this payment was recorded before. */
	addPayment(payment: NewPayment): Promise<boolean>;
	/** Refund, revoke or upgrade: every payment of the subscription ends at `atMs`; false if none is known. */
	revokeSubscription(provider: PaymentProvider, lineage: string, atMs: number): Promise<boolean>;
	setAutoRenewing(
		provider: PaymentProvider,
		lineage: string,
		autoRenewing: boolean,
	): Promise<boolean>;
	/** Store-declared grace on the subscription's newest payment, which then renews. */
	setGracePeriod(
		provider: PaymentProvider,
		lineage: string,
		gracePeriodMs: number,
	): Promise<boolean>;
	/** A reversed refund: the payment counts again. */
	reinstatePayment(
		provider: PaymentProvider,
		externalId: string,
		autoRenewing: boolean,
	): Promise<boolean>;
	/** Apple declined a refund the holder asked for: the payment no longer shows a request. */
	declineRefund(provider: PaymentProvider, externalId: string): Promise<boolean>;
	/** False when this notification was handled before (Apple resends until it gets a 200). */
	recordAppleNotification(uuid: string, expiresAtMs: number): Promise<boolean>;

	findPayment(provider: PaymentProvider, externalId: string): Promise<ProPayment | null>;
	/** Writes down what the store now says of one payment's term; a revoked payment stays as it is. */
	convergePayment(
		provider: PaymentProvider,
		externalId: string,
		term: {
			readonly expiryAtMs: number;
			readonly gracePeriodMs: number | null;
			readonly autoRenewing: boolean;
		},
	): Promise<boolean>;
	/** A refund of one payment (one billing period); false if it is unknown. */
	revokePayment(provider: PaymentProvider, externalId: string, atMs: number): Promise<boolean>;
	/** The master key of the account holding any payment of the subscription, if one does. */
	masterKeyOfLineage(provider: PaymentProvider, lineage: string): Promise<Uint8Array | null>;
	/** False when this Pub/Sub message was handled before. */
	recordGoogleNotification(messageId: string, eventAtMs: number): Promise<boolean>;
	enqueueGoogleReconcile(purchaseToken: string, eligibleAtMs: number): Promise<void>;
	requireGoogleAck(purchaseToken: string, productId: string, purchasedAtMs: number): Promise<void>;
}

export class EntitlementService {
	readonly #ledger: EntitlementLedger;
	readonly #signingKey: Ed25519KeyPair;
	readonly #clock: Clock;
	readonly #settings: EntitlementSettings;
	readonly #cursor: PaymentCursor;

	constructor(
		ledger: EntitlementLedger,
		signingKey: Ed25519KeyPair,
		clock: Clock,
		settings: EntitlementSettings,
	) {
		this.#ledger = ledger;
		this.#signingKey = signingKey;
		this.#clock = clock;
		this.#settings = settings;
		this.#cursor = paymentCursor(signingKey.seed);
	}

	status() {
		return {
			version: BACKEND_VERSION,
			timestamp: seconds(this.#clock.nowMs()),
			signing_pubkey: hex(this.#signingKey.publicKey),
		};
	}

	/** A proof that `rotatingPkey` belongs to an entitled account, signed by the backend. */
	async generateProof(request: {
		readonly masterPkey: Uint8Array;
		readonly rotatingPkey: Uint8Array;
		readonly ts: number;
		readonly masterSig: Uint8Array;
		readonly rotatingSig: Uint8Array;
	}) {
		const { masterPkey, rotatingPkey, ts, masterSig, rotatingSig } = request;
		const nowMs = this.#clock.nowMs();
		const requestAtMs = ts * SECOND_MS;
		if (Math.abs(nowMs - requestAtMs) > TIMESTAMP_TOLERANCE_MS) {
			throw new ProtocolError(
				"stale_request",
				`Nonce timestamp is outside the tolerance window: ${new Date(requestAtMs).toISOString()} (now ${new Date(nowMs).toISOString()})`,
			);
		}
		this.checkKeySanity(masterPkey, rotatingPkey, masterSig, rotatingSig);
		const message = generateProofMessage(masterPkey, rotatingPkey, ts);
		if (!verifiesEd25519(masterPkey, message, masterSig)) {
			throw new ProtocolError(
				"bad_signature",
				`Failed to verify signature from master key ${shortKey(masterPkey)}: Signature was forged or corrupt`,
			);
		}
		if (!verifiesEd25519(rotatingPkey, message, rotatingSig)) {
			throw new ProtocolError(
				"bad_signature",
				`Failed to verify signature from rotating key ${shortKey(rotatingPkey)}: Signature was forged or corrupt`,
			);
		}
		const account = await this.#currentAccount(masterPkey, requestAtMs);
		if (account === null) {
			throw new ProtocolError(
				"not_subscribed",
				`User ${hex(masterPkey)} does not have an active payment registered for it`,
			);
		}
		const { user, generation } = account;
		if (generation === null || generation.revokedAtMs !== null) {
			throw new ProtocolError("revoked", `User ${hex(masterPkey)} payment has been revoked`);
		}
		const revocationTag = generation.token;
		const coverage = coverageEnd(user, this.#settings.renewalAllowanceMs);
		const expiryMs = proofExpiryMs(requestAtMs, coverage, user.proofExpiryOffsetSeconds);
		const accountFields = {
			account_expiry_ts: seconds(user.expiryAtMs),
			account_grace_period_duration: seconds(coverage - user.expiryAtMs),
			account_auto_renewing: user.autoRenewing,
		};
		if (requestAtMs > expiryMs) {
			throw new ProtocolError(
				"subscription_expired",
				`User ${hex(masterPkey)} entitlement expired at ${new Date(coverage).toISOString()}`,
				accountFields,
			);
		}
		const expiryTs = seconds(expiryMs);
		const signature = sign(
			null,
			proofMessage(revocationTag, rotatingPkey, expiryTs),
			this.#signingKey.privateKeyObject,
		);
		return {
			revocation_tag: hex(revocationTag),
			rotating_pkey: hex(rotatingPkey),
			expiry_ts: expiryTs,
			sig: hex(signature),
			...accountFields,
		};
	}

	/** Revocations since the client's ticket: every live one when its ticket is behind, none otherwise. */
	async revocations(clientTicket: number) {
		const ticket = await this.#ledger.revocationTicket();
		const nowMs = this.#clock.nowMs();
		const revoked =
			clientTicket < ticket
				? await this.#ledger.revokedGenerationsSince(nowMs - REVOCATION_RETAIN_FOR_MS)
				: [];
		return {
			ticket,
			items: revoked.map((generation) => ({
				revocation_tag: hex(generation.token),
				effective_ts: seconds((generation.revokedAtMs ?? 0) + REVOCATION_EFFECTIVE_DELAY_MS),
			})),
			retry_in: REVOCATION_RETRY_IN_S,
			retain_for: seconds(REVOCATION_RETAIN_FOR_MS),
		};
	}

	async proStatus(request: MasterSigned) {
		const requestAtMs = this.#checkReadRequest(
			request,
			getProStatusMessage(request.masterPkey, request.ts),
		);
		const result = await this.#currentAccount(request.masterPkey, requestAtMs);
		if (result === null) {
			return {
				user_status: "never",
				auto_renewing: false,
				expiry_ts: 0,
				grace_period_duration: 0,
				latest_payment: null,
			};
		}
		const { user, generation } = result;
		const revoked = generation === null || generation.revokedAtMs !== null;
		const coverage = coverageEnd(user, this.#settings.renewalAllowanceMs);
		const latest = await this.#ledger.latestPayment(user.id);
		return {
			user_status: !revoked && requestAtMs <= coverage ? "active" : "expired",
			auto_renewing: user.autoRenewing,
			expiry_ts: seconds(user.expiryAtMs),
			grace_period_duration: seconds(coverage - user.expiryAtMs),
			latest_payment: latest === null ? null : paymentItem(latest, requestAtMs),
		};
	}

	async paymentDetails(
		request: MasterSigned & { readonly limit: number; readonly before: string },
	) {
		const requestAtMs = this.#checkReadRequest(
			request,
			getPaymentDetailsMessage(request.masterPkey, request.ts, request.limit, request.before),
		);
		if (request.limit <= 0) throw new ProtocolError("invalid_request", "'limit' must be positive");
		const limit = Math.min(request.limit, PAGE_CAP);
		let beforeId: number | null = null;
		if (request.before !== "") {
			beforeId = this.#cursor.open(request.before, request.masterPkey);
			if (beforeId === null)
				throw new ProtocolError("invalid_request", "Invalid pagination cursor");
		}
		const account = await this.#currentAccount(request.masterPkey, requestAtMs);
		if (account === null) return { payments_total: 0, items: [], next_cursor: null };
		const { user } = account;
		const page = await this.#ledger.paymentPage(user.id, beforeId, limit);
		const last = page.at(-1);
		return {
			payments_total: await this.#ledger.countPayments(user.id),
			items: page.map((payment) => paymentItem(payment, requestAtMs)),
			next_cursor:
				page.length === limit && last !== undefined
					? this.#cursor.seal(last.id, request.masterPkey)
					: null,
		};
	}

	/**
	 * Records a payment outside the stores: an operator's grant or a dev-mode purchase. `stf` (Session
	 * Foundation) payments are bound at once; store payments wait for the account's next signed request
	 * unless `redeem`.
	 */
	async addPayment(request: {
		readonly masterPkey: Uint8Array;
		readonly provider: PaymentProvider;
		readonly plan: ProPlan;
		readonly durationMs?: number;
		readonly redeem: boolean;
		/** The store's identifiers, when a client names them (legacy dev payments); else made up. */
		readonly identity?: {
			readonly externalId: string;
			readonly lineage: string;
			readonly claimKey: string | null;
		};
		readonly autoRenewing?: boolean;
		readonly gracePeriodMs?: number;
	}) {
		const nowMs = this.#clock.nowMs();
		const { masterPkey, provider, plan } = request;
		const expiryAtMs = nowMs + (request.durationMs ?? PLAN_DURATION_MS[plan]);
		const identity = request.identity ?? paymentIdentity(provider, masterPkey);
		return this.#ledger.transaction(async (tx) => {
			const payment = await tx.insertPayment({
				provider,
				plan,
				...identity,
				autoRenewing: request.autoRenewing ?? provider !== "stf",
				purchasedAtMs: nowMs,
				expiryAtMs,
				gracePeriodMs: request.gracePeriodMs ?? null,
				platformRefundExpiryAtMs: nowMs,
			});
			let user: ProUser | null = null;
			if (provider === "stf") {
				user = (await tx.findUser(masterPkey)) ?? (await this.#newUser(tx, masterPkey, nowMs));
				await tx.claimPayments([payment.id], user.id, nowMs);
				user = await this.#refreshEntitlement(tx, user, nowMs);
			} else if (request.redeem) {
				user = await this.#claimPending(tx, masterPkey, nowMs);
			}
			return {
				provider,
				payment_id: payment.externalId,
				plan,
				account_expiry_ts: user === null ? 0 : seconds(user.expiryAtMs),
				redeemed: user !== null,
			};
		});
	}

	/**
	 * Revokes the account's current generation so that `effective_ts` is `effectiveInSeconds` from now,
	 * and starts a new one: the dev-mode stand-in for a store refund, which tests poll for.
	 */
	async revokeGeneration(masterPkey: Uint8Array, effectiveInSeconds: number) {
		const nowMs = this.#clock.nowMs();
		return this.#ledger.transaction(async (tx) => {
			const user = await tx.findUser(masterPkey);
			const generation =
				user?.currentGenerationId == null
					? null
					: await tx.findGeneration(user.currentGenerationId);
			if (user === null || generation === null || generation.revokedAtMs !== null) {
				throw new ProtocolError(
					"invalid_request",
					`No live generation to revoke for ${hex(masterPkey)} (unknown account, or its current generation is already revoked)`,
				);
			}
			const revokedAtMs = nowMs + effectiveInSeconds * SECOND_MS - REVOCATION_EFFECTIVE_DELAY_MS;
			await tx.revokeGeneration(generation.id, revokedAtMs);
			const fresh = await this.#ensureLiveGeneration(tx, user, nowMs);
			return {
				revoked_generation_id: generation.id,
				effective_ts: seconds(revokedAtMs + REVOCATION_EFFECTIVE_DELAY_MS),
				new_generation_allocated: fresh !== null,
			};
		});
	}

	/**
	 * Ends an account's entitlement now, as a refund would: every payment revoked, the current generation
	 * revoked (its proofs land on the revocation list), no new one. Returns how many payments it revoked.
	 */
	async revokeAccount(masterPkey: Uint8Array): Promise<number | null> {
		const nowMs = this.#clock.nowMs();
		return this.#ledger.transaction(async (tx) => {
			const user = await tx.findUser(masterPkey);
			if (user === null) return null;
			const live = (await tx.paymentsOfUser(user.id)).filter(
				(payment) => payment.revokedAtMs === null,
			);
			await tx.revokePayments(
				live.map((payment) => payment.id),
				nowMs,
			);
			const refreshed = await this.#refreshEntitlement(tx, user, nowMs);
			if (refreshed.currentGenerationId !== null)
				await tx.revokeGeneration(refreshed.currentGenerationId, nowMs);
			return live.length;
		});
	}

	/** An account as an operator sees it; null for a key with no account. */
	async describeAccount(masterPkey: Uint8Array) {
		const nowMs = this.#clock.nowMs();
		const user = await this.#ledger.findUser(masterPkey);
		if (user === null) return null;
		const payments = await this.#ledger.paymentPage(user.id, null, Number.MAX_SAFE_INTEGER);
		const coverage = coverageEnd(user, this.#settings.renewalAllowanceMs);
		return {
			master_pkey: hex(masterPkey),
			status: nowMs <= coverage ? "active" : "expired",
			expiry: new Date(user.expiryAtMs).toISOString(),
			covered_until: new Date(coverage).toISOString(),
			auto_renewing: user.autoRenewing,
			payments: payments.map((payment) => ({
				...paymentItem(payment, nowMs),
				id: payment.id,
			})),
		};
	}

	/** Applies a store notification's changes in one transaction: all of them, or none. */
	storeTransaction<T>(work: (events: StoreEvents) => Promise<T>): Promise<T> {
		return this.#ledger.transaction((tx) => {
			const nowMs = this.#clock.nowMs();
			const owners = (payments: readonly ProPayment[]) =>
				new Set(payments.map((payment) => payment.userId).filter((id) => id !== null));
			// Only money taken back can end an account early enough to revoke its proofs; a renewal
			// setting only moves the courtesy grace, which proofs may outlive by at most a day.
			const refreshOwners = async (payments: readonly ProPayment[]) => {
				for (const userId of owners(payments)) {
					const user = await tx.findUserById(userId);
					if (user !== null) await this.#refreshEntitlement(tx, user, nowMs);
				}
			};
			return work({
				addPayment: (payment) => this.#addStorePayment(tx, payment, nowMs),
				revokeSubscription: async (provider, lineage, atMs) => {
					const payments = await tx.paymentsOfLineage(provider, lineage);
					if (payments.length === 0) return false;
					await tx.revokePayments(
						payments.map((payment) => payment.id),
						atMs,
					);
					for (const userId of owners(payments))
						await this.#refreshAfterStoreChange(tx, userId, nowMs);
					return true;
				},
				setAutoRenewing: async (provider, lineage, autoRenewing) => {
					const payments = await tx.paymentsOfLineage(provider, lineage);
					for (const payment of payments)
						if (payment.revokedAtMs === null) await tx.updatePayment(payment.id, { autoRenewing });
					await refreshOwners(payments);
					return payments.length > 0;
				},
				setGracePeriod: async (provider, lineage, gracePeriodMs) => {
					const [newest] = await tx.paymentsOfLineage(provider, lineage);
					if (newest === undefined) return false;
					await tx.updatePayment(newest.id, { gracePeriodMs, autoRenewing: true });
					await refreshOwners([newest]);
					return true;
				},
				reinstatePayment: async (provider, externalId, autoRenewing) => {
					const payment = await tx.findPayment(provider, externalId);
					if (payment === null) return false;
					await tx.updatePayment(payment.id, { revokedAtMs: null, autoRenewing });
					await refreshOwners([payment]);
					return true;
				},
				declineRefund: async (provider, externalId) => {
					const payment = await tx.findPayment(provider, externalId);
					if (payment === null) return false;
					await tx.updatePayment(payment.id, { refundRequestedAtMs: null });
					return true;
				},
				recordAppleNotification: (uuid, expiresAtMs) =>
					tx.recordAppleNotification(uuid, expiresAtMs),
				findPayment: (provider, externalId) => tx.findPayment(provider, externalId),
				convergePayment: async (provider, externalId, term) => {
					const payment = await tx.findPayment(provider, externalId);
					if (payment === null || payment.revokedAtMs !== null) return false;
					await tx.updatePayment(payment.id, term);
					if (payment.userId !== null)
						await this.#refreshAfterStoreChange(tx, payment.userId, nowMs);
					return true;
				},
				revokePayment: async (provider, externalId, atMs) => {
					const payment = await tx.findPayment(provider, externalId);
					if (payment === null) return false;
					await tx.revokePayments([payment.id], atMs);
					if (payment.userId !== null)
						await this.#refreshAfterStoreChange(tx, payment.userId, nowMs);
					return true;
				},
				masterKeyOfLineage: async (provider, lineage) => {
					const held = (await tx.paymentsOfLineage(provider, lineage)).find(
						(payment) => payment.userId !== null,
					);
					const holder = held?.userId == null ? null : await tx.findUserById(held.userId);
					return holder?.masterPkey ?? null;
				},
				recordGoogleNotification: (messageId, eventAtMs) =>
					tx.recordGoogleNotification(messageId, eventAtMs),
				enqueueGoogleReconcile: (purchaseToken, eligibleAtMs) =>
					tx.enqueueGoogleReconcile(purchaseToken, eligibleAtMs),
				requireGoogleAck: (purchaseToken, productId, purchasedAtMs) =>
					tx.requireGoogleAck(purchaseToken, productId, purchasedAtMs),
			});
		});
	}

	/** Records a store payment; a renewal of a subscription an account holds binds to it at once. */
	async #addStorePayment(
		tx: LedgerTransaction,
		payment: NewPayment,
		nowMs: number,
	): Promise<boolean> {
		if ((await tx.findPayment(payment.provider, payment.externalId)) !== null) return false;
		const inserted = await tx.insertPayment(payment);
		const held = (await tx.paymentsOfLineage(payment.provider, payment.lineage)).find(
			(earlier) => earlier.userId !== null && earlier.id !== inserted.id,
		);
		const holder = held?.userId == null ? null : await tx.findUserById(held.userId);
		if (holder === null) return true;
		const renewalWindowMs = !holder.autoRenewing
			? 0
			: payment.provider === "google_play"
				? GOOGLE_ACCOUNT_HOLD_MS
				: (holder.gracePeriodMs ?? 0);
		if (payment.purchasedAtMs <= holder.expiryAtMs + renewalWindowMs) {
			await tx.claimPayments([inserted.id], holder.id, nowMs);
			await this.#refreshAfterStoreChange(tx, holder.id, nowMs);
		}
		return true;
	}

	/**
	 * Recomputes an account after a store change. When its coverage shrank, proofs already issued may
	 * reach past it: revoke the current generation (and start a new one while payments remain) unless
	 * the old coverage ends within a day anyway or what survives outlasts any proof.
	 */
	async #refreshAfterStoreChange(tx: LedgerTransaction, userId: number, nowMs: number) {
		const before = await tx.findUserById(userId);
		if (before === null) return;
		const allowanceMs = this.#settings.renewalAllowanceMs;
		const prior = coverageEnd(before, allowanceMs);
		// A plan change arrives as a new purchase the account has not claimed yet: count it before
		// judging whether the account lost coverage, or an upgrade would revoke the subscriber's proofs.
		await tx.claimPayments(
			await tx.unclaimedPaymentIds(claimsOf(before.masterPkey)),
			userId,
			nowMs,
		);
		const after = await this.#refreshEntitlement(tx, before, nowMs);
		const surviving = coverageEnd(after, allowanceMs);
		if (surviving >= prior || prior <= nowMs + DAY_MS) return;
		if (surviving >= nowMs + TIMESTAMP_TOLERANCE_MS + MAX_PROOF_LIFETIME_MS) return;
		if (after.currentGenerationId !== null)
			await tx.revokeGeneration(after.currentGenerationId, nowMs);
		const stillPaying = (await tx.paymentsOfUser(userId)).some(
			(payment) => payment.revokedAtMs === null,
		);
		if (stillPaying) await this.#ensureLiveGeneration(tx, after, nowMs);
	}

	/** Refuses keys no honest client sends (upstream's sanity checks): a ProtocolError naming the fault. */
	checkKeySanity(
		masterPkey: Uint8Array,
		rotatingPkey: Uint8Array,
		masterSig: Uint8Array,
		rotatingSig: Uint8Array,
	): void {
		const backend = Buffer.from(this.#signingKey.publicKey);
		if (backend.equals(masterPkey) || backend.equals(rotatingPkey)) {
			throw new ProtocolError(
				"internal_error",
				"Internal key error during adding payment: please notify the devs",
			);
		}
		if (Buffer.from(masterPkey).equals(rotatingPkey)) {
			throw new ProtocolError(
				"invalid_request",
				`Master and rotating key cannot be the same was: ${shortKey(masterPkey)}`,
			);
		}
		if (masterPkey.every((byte) => byte === 0))
			throw new ProtocolError("invalid_request", "Master key cannot be the zero key");
		if (rotatingPkey.every((byte) => byte === 0))
			throw new ProtocolError("invalid_request", "Rotating key cannot be the zero key");
		if (Buffer.from(masterSig).equals(rotatingSig))
			throw new ProtocolError(
				"invalid_request",
				"Master and rotating signature cannot be the same",
			);
	}

	/** The read endpoints' checks, in upstream's order: timestamp window, then the master signature. */
	#checkReadRequest(request: MasterSigned, message: Uint8Array): number {
		const requestAtMs = request.ts * SECOND_MS;
		const deltaMs = this.#clock.nowMs() - requestAtMs;
		if (Math.abs(deltaMs) >= TIMESTAMP_TOLERANCE_MS) {
			throw new ProtocolError(
				"stale_request",
				`Timestamp is outside the tolerance window, delta was ${deltaMs / SECOND_MS}s`,
			);
		}
		if (!verifiesEd25519(request.masterPkey, message, request.masterSig))
			throw new ProtocolError("bad_signature", "Signature failed to be verified");
		return requestAtMs;
	}

	/**
	 * Binds one named store payment to the master key (legacy `add_pro_payment`), in one transaction:
	 * `unknown` unless it exists, is unrevoked and `isBindable` by this key; `already_redeemed` when this key
	 * holds it already; `claimed` when it is the account's now.
	 */
	async claimNamedPayment(
		masterPkey: Uint8Array,
		provider: PaymentProvider,
		externalId: string,
		isBindable: (payment: ProPayment) => boolean,
	): Promise<"claimed" | "already_redeemed" | "unknown"> {
		const nowMs = this.#clock.nowMs();
		return this.#ledger.transaction(async (tx) => {
			const payment = await tx.findPayment(provider, externalId);
			if (payment === null || payment.revokedAtMs !== null) return "unknown";
			if (payment.userId !== null) {
				const owner = await tx.findUserById(payment.userId);
				return owner !== null && Buffer.from(owner.masterPkey).equals(masterPkey)
					? "already_redeemed"
					: "unknown";
			}
			if (!isBindable(payment)) return "unknown";
			const user = (await tx.findUser(masterPkey)) ?? (await this.#newUser(tx, masterPkey, nowMs));
			await tx.claimPayments([payment.id], user.id, nowMs);
			await this.#refreshEntitlement(tx, user, nowMs);
			return "claimed";
		});
	}

	/**
	 * Records (or, with null, withdraws) the holder's refund request on one of their own payments; false when
	 * the payment is unknown or belongs to another account (upstream updated any account's payment).
	 */
	async setRefundRequested(
		masterPkey: Uint8Array,
		provider: PaymentProvider,
		externalId: string,
		refundRequestedAtMs: number | null,
	): Promise<boolean> {
		return this.#ledger.transaction(async (tx) => {
			const payment = await tx.findPayment(provider, externalId);
			if (payment?.userId == null) return false;
			const owner = await tx.findUserById(payment.userId);
			if (owner === null || !Buffer.from(owner.masterPkey).equals(masterPkey)) return false;
			await tx.updatePayment(payment.id, { refundRequestedAtMs });
			return true;
		});
	}

	/** The account and its current generation, pending payments claimed first (the legacy protocol's view). */
	account(masterPkey: Uint8Array, atMs: number) {
		return this.#currentAccount(masterPkey, atMs);
	}

	/**
	 * How long the account may use Pro under legacy v0 rules: paid-through plus, while renewing, the store's
	 * grace, or where the store declared none the renewal allowance, standing in for the Python backend's
	 * default grace (1 h): the deadline that backend computed for the same payments.
	 */
	legacyCoverageOf(user: ProUser): number {
		return user.autoRenewing
			? user.expiryAtMs + (user.gracePeriodMs ?? this.#settings.renewalAllowanceMs)
			: user.expiryAtMs;
	}

	/**
	 * The account and its current generation after claiming its pending payments; null without an account.
	 * The common case, nothing pending, costs one read and no write transaction.
	 */
	async #currentAccount(masterPkey: Uint8Array, atMs: number) {
		const claims = claimsOf(masterPkey);
		const found = await this.#ledger.findAccount(masterPkey, claims);
		if (!found.hasUnclaimedPayments) return found.account;
		await this.#ledger.transaction((tx) => this.#claimPending(tx, masterPkey, atMs));
		return (await this.#ledger.findAccount(masterPkey, claims)).account;
	}

	/**
	 * Binds the master key's unclaimed store payments to its account (creating the account on its first
	 * payment) and returns the account, or null when it has none.
	 */
	async #claimPending(
		tx: LedgerTransaction,
		masterPkey: Uint8Array,
		atMs: number,
	): Promise<ProUser | null> {
		const pending = await tx.unclaimedPaymentIds(claimsOf(masterPkey));
		const existing = await tx.findUser(masterPkey);
		if (pending.length === 0) return existing;
		const user = existing ?? (await this.#newUser(tx, masterPkey, atMs));
		await tx.claimPayments(pending, user.id, atMs);
		return this.#refreshEntitlement(tx, user, atMs);
	}

	async #newUser(tx: LedgerTransaction, masterPkey: Uint8Array, atMs: number): Promise<ProUser> {
		return tx.insertUser(masterPkey, {
			expiryAtMs: atMs,
			gracePeriodMs: null,
			autoRenewing: false,
			proofExpiryOffsetSeconds: randomProofExpiryOffset(),
		});
	}

	/** Recomputes the account from its payments and makes sure a live generation exists while any payment does. */
	async #refreshEntitlement(tx: LedgerTransaction, user: ProUser, atMs: number): Promise<ProUser> {
		const payments = await tx.paymentsOfUser(user.id);
		const entitlement: AccountEntitlement = foldEntitlement(
			payments,
			atMs,
			this.#settings.renewalAllowanceMs,
		);
		// A new offset whenever the account extends, so its proof expiries do not form a trackable series.
		const offset =
			entitlement.expiryAtMs > user.expiryAtMs
				? randomProofExpiryOffset()
				: user.proofExpiryOffsetSeconds;
		const update = { ...entitlement, proofExpiryOffsetSeconds: offset };
		await tx.updateUser(user.id, update);
		const updated = { ...user, ...update };
		const fresh = payments.some((payment) => payment.revokedAtMs === null)
			? await this.#ensureLiveGeneration(tx, updated, atMs)
			: null;
		return fresh ?? updated;
	}

	/** A new generation (and offset) when the current one is missing or revoked; null when it is live. */
	async #ensureLiveGeneration(
		tx: LedgerTransaction,
		user: ProUser,
		atMs: number,
	): Promise<ProUser | null> {
		const current =
			user.currentGenerationId === null ? null : await tx.findGeneration(user.currentGenerationId);
		if (current !== null && current.revokedAtMs === null) return null;
		const generation = await tx.insertGeneration(user.id, randomBytes(TAG_BYTES), atMs);
		await tx.setCurrentGeneration(user.id, generation.id);
		const offset = randomProofExpiryOffset();
		const updated = {
			...user,
			currentGenerationId: generation.id,
			proofExpiryOffsetSeconds: offset,
		};
		await tx.updateUser(user.id, updated);
		return updated;
	}
}

/** Identifiers for a payment made outside the stores, shaped like the store's own (as upstream's dev routes). */
function paymentIdentity(provider: PaymentProvider, masterPkey: Uint8Array) {
	switch (provider) {
		case "google_play": {
			const token = randomUUID();
			return {
				externalId: `${token}|GPA.${randomUUID()}`,
				lineage: token,
				claimKey: googleAccountIdFor(masterPkey),
			};
		}
		case "app_store": {
			const transaction = BigInt(`0x${randomBytes(8).toString("hex")}`)
				.toString()
				.padStart(18, "0")
				.slice(0, 18);
			return {
				externalId: transaction,
				lineage: transaction,
				claimKey: appAccountTokenFor(masterPkey),
			};
		}
		case "stf": {
			const order = randomUUID();
			return { externalId: order, lineage: order, claimKey: null };
		}
	}
}
