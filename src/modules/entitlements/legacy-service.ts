/**
 * The legacy v0 use cases (specs/session-pro.md §4), answered from the same ledger as the 0.2.0 ones: an
 * account entitled through either protocol is entitled under both, and a revoked generation is listed on
 * both revocation lists — by its random tag in 0.2.0, by the hash of its salted index here (the generation
 * id is the legacy gen_index).
 */
import { randomBytes, sign } from "node:crypto";
import type { Clock } from "#lib/clock";
import { type Ed25519KeyPair, verifiesEd25519 } from "#lib/ed25519";
import {
	DAY_MS,
	type PaymentProvider,
	type ProPlan,
	REVOCATION_RETAIN_FOR_MS,
	TIMESTAMP_TOLERANCE_MS,
} from "./entitlement.ts";
import { appAccountTokenFor, claimsOf, type EntitlementService } from "./entitlement-service.ts";
import type { EntitlementLedger, ProPayment } from "./ledger.ts";
import {
	addProPaymentDigest,
	generateProProofDigest,
	genIndexHash,
	getProDetailsDigest,
	LEGACY_VERSION,
	LegacyPaymentStatus,
	type LegacyPaymentTx,
	LegacyPlan,
	LegacyProtocolError,
	LegacyProvider,
	LegacyStatus,
	LegacyUserStatus,
	proofDigest,
	setPaymentRefundRequestedDigest,
} from "./legacy-protocol.ts";
import { ProtocolError } from "./protocol.ts";

/** Legacy dev mode's made-up payments (§11): the plan, term and renewal a dev request asks for. */
export interface LegacyDevPayment {
	readonly plan: ProPlan;
	readonly durationMs: number;
	readonly autoRenewing: boolean;
}

const DEV_PAYMENT_PREFIX = "DEV.";
const DEV_GRACE_MS = 60_000;

/** What a legacy proof may cover at most, before rounding up to the next UTC midnight (upstream's month). */
const LEGACY_PROOF_CLAMP_MS = 30 * DAY_MS;
const LEGACY_RETRY_IN_S = 86_400;
/** Upstream answered every payment at once; a page as large as 0.2.0's keeps one answer bounded. */
const DETAILS_PAGE_CAP = 100;
const SALT_BYTES = 16;
const GEN_INDEX_HASHES_KEPT = 10_000;

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

function roundUpToNextUtcDay(ms: number): number {
	return Math.ceil(ms / DAY_MS) * DAY_MS;
}

const PROVIDER_CODE: Record<PaymentProvider, number> = {
	google_play: LegacyProvider.googlePlay,
	app_store: LegacyProvider.appStore,
	stf: LegacyProvider.rangeproof,
};

const PLAN_CODE: Record<ProPlan, number> = {
	"1m": LegacyPlan.oneMonth,
	"3m": LegacyPlan.threeMonths,
	"1y": LegacyPlan.twelveMonths,
};

/** The store's own identifiers of a payment, under the legacy field names. */
function storeIdentifiers(payment: ProPayment): Record<string, string> {
	switch (payment.provider) {
		case "google_play": {
			const separator = payment.externalId.indexOf("|");
			return {
				google_payment_token: payment.lineage,
				google_order_id: separator === -1 ? "" : payment.externalId.slice(separator + 1),
			};
		}
		case "app_store":
			return {
				apple_original_tx_id: payment.lineage,
				apple_tx_id: payment.externalId,
				apple_web_line_order_id: "",
			};
		case "stf":
			return { rangeproof_order_id: payment.externalId };
	}
}

function legacyPaymentItem(payment: ProPayment, atMs: number) {
	const status =
		payment.revokedAtMs !== null
			? LegacyPaymentStatus.revoked
			: atMs >= payment.expiryAtMs
				? LegacyPaymentStatus.expired
				: LegacyPaymentStatus.redeemed;
	return {
		status,
		plan: PLAN_CODE[payment.plan],
		payment_provider: PROVIDER_CODE[payment.provider],
		auto_renewing: payment.autoRenewing,
		unredeemed_unix_ts_ms: payment.purchasedAtMs,
		redeemed_unix_ts_ms: payment.redeemedAtMs ?? 0,
		expiry_unix_ts_ms: payment.expiryAtMs,
		grace_period_duration_ms: payment.gracePeriodMs ?? 0,
		platform_refund_expiry_unix_ts_ms: payment.platformRefundExpiryAtMs,
		revoked_unix_ts_ms: payment.revokedAtMs ?? 0,
		refund_requested_unix_ts_ms: payment.refundRequestedAtMs ?? 0,
		...storeIdentifiers(payment),
	};
}

export class LegacyEntitlementService {
	readonly #service: EntitlementService;
	readonly #ledger: EntitlementLedger;
	readonly #signingKey: Ed25519KeyPair;
	readonly #clock: Clock;
	#salt: Uint8Array | null = null;
	/** An account asks for proofs under one generation again and again: its hash is a BLAKE2b each time. */
	readonly #genIndexHashes = new Map<number, Uint8Array>();

	constructor(
		service: EntitlementService,
		ledger: EntitlementLedger,
		signingKey: Ed25519KeyPair,
		clock: Clock,
	) {
		this.#service = service;
		this.#ledger = ledger;
		this.#signingKey = signingKey;
		this.#clock = clock;
	}

	async #genIndexHash(generationId: number): Promise<Uint8Array> {
		const known = this.#genIndexHashes.get(generationId);
		if (known !== undefined) return known;
		this.#salt ??= await this.#ledger.legacyGenIndexSalt(randomBytes(SALT_BYTES));
		const hash = genIndexHash(generationId, this.#salt);
		if (this.#genIndexHashes.size >= GEN_INDEX_HASHES_KEPT) this.#genIndexHashes.clear();
		this.#genIndexHashes.set(generationId, hash);
		return hash;
	}

	/** Outside ±70 s of the backend's clock: status 2, as upstream. */
	#checkTimestamp(unixTsMs: number): void {
		const deltaMs = this.#clock.nowMs() - unixTsMs;
		if (Math.abs(deltaMs) > TIMESTAMP_TOLERANCE_MS) {
			throw new LegacyProtocolError(
				LegacyStatus.parseError,
				`Timestamp is outside the tolerance window, delta was ${deltaMs / 1_000}s`,
			);
		}
	}

	/** §4.2: a proof for a rotating key, under the account's current generation. */
	async generateProof(request: {
		readonly masterPkey: Uint8Array;
		readonly rotatingPkey: Uint8Array;
		readonly unixTsMs: number;
		readonly masterSig: Uint8Array;
		readonly rotatingSig: Uint8Array;
	}) {
		const { masterPkey, rotatingPkey, unixTsMs, masterSig, rotatingSig } = request;
		this.#checkTimestamp(unixTsMs);
		this.#checkSignatures(
			generateProProofDigest(masterPkey, rotatingPkey, unixTsMs),
			masterPkey,
			rotatingPkey,
			masterSig,
			rotatingSig,
		);
		return this.#proofFor(masterPkey, rotatingPkey, unixTsMs);
	}

	#checkSignatures(
		digest: Uint8Array,
		masterPkey: Uint8Array,
		rotatingPkey: Uint8Array,
		masterSig: Uint8Array,
		rotatingSig: Uint8Array,
	): void {
		try {
			this.#service.checkKeySanity(masterPkey, rotatingPkey, masterSig, rotatingSig);
		} catch (error) {
			if (error instanceof ProtocolError)
				throw new LegacyProtocolError(LegacyStatus.error, error.message);
			throw error;
		}
		if (
			!verifiesEd25519(masterPkey, digest, masterSig) ||
			!verifiesEd25519(rotatingPkey, digest, rotatingSig)
		)
			throw new LegacyProtocolError(LegacyStatus.error, "Signature failed to be verified");
	}

	/** A proof for the rotating key under the account's current generation, as of `unixTsMs`. */
	async #proofFor(masterPkey: Uint8Array, rotatingPkey: Uint8Array, unixTsMs: number) {
		const account = await this.#service.account(masterPkey, unixTsMs);
		if (account === null) {
			throw new LegacyProtocolError(
				LegacyStatus.error,
				`User ${hex(masterPkey)} does not have an active payment registered for it`,
			);
		}
		const { user, generation } = account;
		if (generation === null || generation.revokedAtMs !== null)
			throw new LegacyProtocolError(
				LegacyStatus.error,
				`User ${hex(masterPkey)} payment has been revoked`,
			);
		const coverage = this.#service.legacyCoverageOf(user);
		const expiryMs = Math.min(roundUpToNextUtcDay(unixTsMs + LEGACY_PROOF_CLAMP_MS), coverage);
		if (unixTsMs > expiryMs) {
			throw new LegacyProtocolError(
				LegacyStatus.error,
				`User ${hex(masterPkey)} entitlement expired at ${new Date(coverage).toISOString()}`,
			);
		}
		const tag = await this.#genIndexHash(generation.id);
		const sig = sign(
			null,
			proofDigest(tag, rotatingPkey, expiryMs),
			this.#signingKey.privateKeyObject,
		);
		return {
			version: LEGACY_VERSION,
			gen_index_hash: hex(tag),
			rotating_pkey: hex(rotatingPkey),
			expiry_unix_ts_ms: expiryMs,
			sig: hex(sig),
		};
	}

	/**
	 * §4.1: binds the store payment the client names to its master key and answers its first proof. A
	 * Google payment binds when its obfuscated account id names this key; an App Store payment when it
	 * carries no appAccountToken (legacy iOS sets none) or this key's. In dev mode an id starting with
	 * `DEV.` makes the payment first, as upstream's dev mode does.
	 */
	async addProPayment(request: {
		readonly masterPkey: Uint8Array;
		readonly rotatingPkey: Uint8Array;
		readonly masterSig: Uint8Array;
		readonly rotatingSig: Uint8Array;
		readonly payment: LegacyPaymentTx;
		readonly dev?: LegacyDevPayment;
	}) {
		const { masterPkey, rotatingPkey, payment } = request;
		this.#checkSignatures(
			addProPaymentDigest(masterPkey, rotatingPkey, payment),
			masterPkey,
			rotatingPkey,
			request.masterSig,
			request.rotatingSig,
		);
		const named =
			payment.provider === LegacyProvider.googlePlay
				? {
						provider: "google_play" as const,
						externalId: `${payment.googlePaymentToken}|${payment.googleOrderId}`,
						lineage: payment.googlePaymentToken,
						storeId: payment.googleOrderId,
					}
				: {
						provider: "app_store" as const,
						externalId: payment.appleTxId,
						lineage: payment.appleTxId,
						storeId: payment.appleTxId,
					};
		const googleClaims = claimsOf(masterPkey)
			.filter((claim) => claim.provider === "google_play")
			.map((claim) => claim.claimKey);
		if (request.dev !== undefined && named.storeId.startsWith(DEV_PAYMENT_PREFIX)) {
			const existing = await this.#ledger.transaction((tx) =>
				tx.findPayment(named.provider, named.externalId),
			);
			if (existing === null) {
				await this.#service.addPayment({
					masterPkey,
					provider: named.provider,
					plan: request.dev.plan,
					durationMs: request.dev.durationMs,
					redeem: false,
					identity: {
						externalId: named.externalId,
						lineage: named.lineage,
						claimKey: named.provider === "google_play" ? (googleClaims[0] ?? null) : null,
					},
					autoRenewing: request.dev.autoRenewing,
					...(request.dev.autoRenewing ? { gracePeriodMs: DEV_GRACE_MS } : {}),
				});
			}
		}
		const appleToken = appAccountTokenFor(masterPkey);
		const outcome = await this.#service.claimNamedPayment(
			masterPkey,
			named.provider,
			named.externalId,
			(found) =>
				found.provider === "google_play"
					? found.claimKey !== null && googleClaims.includes(found.claimKey)
					: found.claimKey === null || found.claimKey === appleToken,
		);
		if (outcome === "already_redeemed")
			throw new LegacyProtocolError(LegacyStatus.alreadyRedeemed, "Payment was already redeemed");
		if (outcome === "unknown")
			throw new LegacyProtocolError(
				LegacyStatus.unknownPayment,
				"Payment was not found, or was already redeemed by another account",
			);
		return this.#proofFor(masterPkey, rotatingPkey, this.#clock.nowMs());
	}

	/**
	 * §4.5 (iOS): the holder tells the backend they asked Apple for a refund (0 withdraws it). Only the
	 * holder's own payment is updated, unlike upstream (§12).
	 */
	async setPaymentRefundRequested(request: {
		readonly masterPkey: Uint8Array;
		readonly masterSig: Uint8Array;
		readonly unixTsMs: number;
		readonly refundRequestedUnixTsMs: number;
		readonly payment: LegacyPaymentTx;
	}) {
		const { masterPkey, unixTsMs, refundRequestedUnixTsMs, payment } = request;
		if (payment.provider !== LegacyProvider.appStore)
			throw new LegacyProtocolError(LegacyStatus.parseError, "Bad payment provider given");
		this.#checkTimestamp(unixTsMs);
		const digest = setPaymentRefundRequestedDigest(
			masterPkey,
			unixTsMs,
			refundRequestedUnixTsMs,
			payment,
		);
		if (!verifiesEd25519(masterPkey, digest, request.masterSig))
			throw new LegacyProtocolError(LegacyStatus.parseError, "Signature failed to be verified");
		const updated = await this.#service.setRefundRequested(
			masterPkey,
			"app_store",
			payment.appleTxId,
			refundRequestedUnixTsMs === 0 ? null : refundRequestedUnixTsMs,
		);
		return { version: LEGACY_VERSION, updated };
	}

	/**
	 * §4.3, without the legacy defect of §12: an item stays listed, and its `expiry_unix_ts_ms` lasts, until
	 * every proof of the revoked generation has expired (the 0.2.0 retention), not until the account did.
	 * Revocations imported from the Python backend come first, by gen_index, as it listed them.
	 */
	async revocations(clientTicket: number) {
		const ticket = await this.#ledger.revocationTicket();
		const nowMs = this.#clock.nowMs();
		const revoked =
			clientTicket < ticket
				? await this.#ledger.revokedGenerationsSince(nowMs - REVOCATION_RETAIN_FOR_MS)
				: [];
		const imported = clientTicket < ticket ? await this.#ledger.importedRevocations(nowMs) : [];
		const items = [];
		for (const revocation of imported) {
			items.push({
				gen_index_hash: hex(await this.#genIndexHash(revocation.genIndex)),
				expiry_unix_ts_ms: revocation.listedUntilMs,
				effective_unix_ts_ms: Math.min(revocation.createdAtMs + DAY_MS, revocation.listedUntilMs),
			});
		}
		// An imported account whose current generation the Python backend had revoked is listed once.
		const listed = new Set(imported.map((revocation) => revocation.genIndex));
		for (const generation of revoked) {
			if (listed.has(generation.id)) continue;
			const revokedAtMs = generation.revokedAtMs ?? 0;
			const expiryMs = roundUpToNextUtcDay(revokedAtMs + REVOCATION_RETAIN_FOR_MS);
			items.push({
				gen_index_hash: hex(await this.#genIndexHash(generation.id)),
				expiry_unix_ts_ms: expiryMs,
				effective_unix_ts_ms: Math.min(revokedAtMs + DAY_MS, expiryMs),
			});
		}
		return { version: LEGACY_VERSION, ticket, retry_in_s: LEGACY_RETRY_IN_S, items };
	}

	/** §4.4: the account's state and up to `count` of its payments, newest first. */
	async proDetails(request: {
		readonly masterPkey: Uint8Array;
		readonly masterSig: Uint8Array;
		readonly unixTsMs: number;
		readonly count: number;
	}) {
		const { masterPkey, masterSig, unixTsMs, count } = request;
		this.#checkTimestamp(unixTsMs);
		if (!verifiesEd25519(masterPkey, getProDetailsDigest(masterPkey, unixTsMs, count), masterSig))
			throw new LegacyProtocolError(LegacyStatus.parseError, "Signature failed to be verified");
		const account = await this.#service.account(masterPkey, unixTsMs);
		if (account === null) {
			return {
				version: LEGACY_VERSION,
				status: LegacyUserStatus.neverBeenPro,
				auto_renewing: false,
				expiry_unix_ts_ms: 0,
				grace_period_duration_ms: 0,
				refund_requested_unix_ts_ms: 0,
				payments_total: 0,
				error_report: 0,
				items: [],
			};
		}
		const { user, generation } = account;
		const coverage = this.#service.legacyCoverageOf(user);
		const isRevoked = generation === null || generation.revokedAtMs !== null;
		const page =
			count === 0
				? []
				: await this.#ledger.paymentPage(user.id, null, Math.min(count, DETAILS_PAGE_CAP));
		const latest = await this.#ledger.latestPayment(user.id);
		return {
			version: LEGACY_VERSION,
			status:
				!isRevoked && unixTsMs <= coverage ? LegacyUserStatus.active : LegacyUserStatus.expired,
			auto_renewing: user.autoRenewing,
			expiry_unix_ts_ms: coverage,
			grace_period_duration_ms: user.autoRenewing ? coverage - user.expiryAtMs : 0,
			refund_requested_unix_ts_ms: latest?.refundRequestedAtMs ?? 0,
			payments_total: await this.#ledger.countPayments(user.id),
			error_report: 0,
			items: page.map((payment) => legacyPaymentItem(payment, unixTsMs)),
		};
	}
}
