/**
 * How long an account is entitled, and for how long a proof may say so (upstream base.py / backend.py,
 * 0.3.0). Pure functions over the ledger's rows; milliseconds inside, seconds only on the wire.
 */

export const SECOND_MS = 1_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** A proof covers at most 29 days, plus a renewal lead so clients renewing an hour early never gap. */
export const PROOF_CLAMP_MS = 29 * DAY_MS;
export const PROOF_RENEWAL_LEAD_MS = 3_660 * SECOND_MS;
export const PROOF_GRID_MS = DAY_MS;
export const MAX_PROOF_LIFETIME_MS = PROOF_CLAMP_MS + PROOF_RENEWAL_LEAD_MS + PROOF_GRID_MS;
/** Clients poll revocations daily; a revocation takes effect after one poll plus two hours of slack. */
export const REVOCATION_RETRY_IN_S = 86_400;
export const REVOCATION_EFFECTIVE_DELAY_MS = 26 * HOUR_MS;
/** Longer than any proof lives, so a revocation is served until every proof it revokes has expired. */
export const REVOCATION_RETAIN_FOR_MS = 31 * DAY_MS;
export const TIMESTAMP_TOLERANCE_MS = 70 * SECOND_MS;

export type PaymentProvider = "google_play" | "app_store" | "stf";
export type ProPlan = "1m" | "3m" | "1y";

export const PLAN_DURATION_MS: Record<ProPlan, number> = {
	"1m": 30 * DAY_MS,
	"3m": 90 * DAY_MS,
	"1y": 365 * DAY_MS,
};

export interface EntitlementPayment {
	readonly id: number;
	readonly provider: PaymentProvider;
	readonly lineage: string;
	readonly autoRenewing: boolean;
	readonly expiryAtMs: number;
	readonly gracePeriodMs: number | null;
	readonly revokedAtMs: number | null;
}

export interface AccountEntitlement {
	/** Paid through, without any grace. */
	readonly expiryAtMs: number;
	/** Store-declared grace of the winning payment; null when the store declared none. */
	readonly gracePeriodMs: number | null;
	readonly autoRenewing: boolean;
}

/** The end of what an account may use: paid-through, plus store grace and latency only while renewing. */
export function coverageEnd(entitlement: AccountEntitlement, allowanceMs: number): number {
	return entitlement.autoRenewing
		? entitlement.expiryAtMs + (entitlement.gracePeriodMs ?? 0) + allowanceMs
		: entitlement.expiryAtMs;
}

/**
 * Folds an account's payments (newest first): only the newest row of each subscription counts, a revoked
 * row ends at its revocation, and the row covering longest wins. No payment: expired now.
 */
export function foldEntitlement(
	paymentsNewestFirst: readonly EntitlementPayment[],
	nowMs: number,
	allowanceMs: number,
): AccountEntitlement {
	const seen = new Set<string>();
	let best: AccountEntitlement | null = null;
	for (const payment of paymentsNewestFirst) {
		const lineage = `${payment.provider}:${payment.lineage}`;
		if (seen.has(lineage)) continue;
		seen.add(lineage);
		const candidate: AccountEntitlement =
			payment.revokedAtMs === null
				? {
						expiryAtMs: payment.expiryAtMs,
						gracePeriodMs: payment.gracePeriodMs,
						autoRenewing: payment.autoRenewing,
					}
				: {
						expiryAtMs: Math.min(payment.expiryAtMs, payment.revokedAtMs),
						gracePeriodMs: null,
						autoRenewing: false,
					};
		if (best === null || coverageEnd(candidate, allowanceMs) > coverageEnd(best, allowanceMs))
			best = candidate;
	}
	return best ?? { expiryAtMs: nowMs, gracePeriodMs: null, autoRenewing: false };
}

/** The first grid point at or after `ms`, on a 24 h grid shifted by the account's offset. */
export function ceilOntoGrid(ms: number, offsetSeconds: number): number {
	const offsetMs = (offsetSeconds * SECOND_MS) % PROOF_GRID_MS;
	const steps = Math.ceil((ms - offsetMs) / PROOF_GRID_MS);
	return offsetMs + steps * PROOF_GRID_MS;
}

/**
 * A proof's expiry: at most 29 days from the request and never past coverage, plus the renewal lead,
 * rounded up onto the account's grid, so every proof of an account in one day expires at one instant
 * (an observer cannot link rotating keys by expiry).
 */
export function proofExpiryMs(
	requestAtMs: number,
	coverageEndMs: number,
	offsetSeconds: number,
): number {
	return ceilOntoGrid(
		Math.min(requestAtMs + PROOF_CLAMP_MS, coverageEndMs) + PROOF_RENEWAL_LEAD_MS,
		offsetSeconds,
	);
}
