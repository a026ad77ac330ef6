/**
 * App Store Server Notifications V2 (specs/session-pro.md §9.1, upstream providers/app_store.py): each
 * signedPayload is verified with Apple's own library against the configured root certificates, then
 * applied to the ledger in one transaction with its notificationUUID, so a resend is answered without
 * a second effect. Fixed against the legacy backend: REFUND_DECLINED is a no-op rather than a crash,
 * the grace period is a duration, the resend window is hours (157 minutes was a typo), and
 * REFUND_REVERSED reinstates the payment.
 */
import {
	AppStoreServerAPIClient,
	Environment,
	type JWSRenewalInfoDecodedPayload,
	type JWSTransactionDecodedPayload,
	type ResponseBodyV2DecodedPayload,
	SignedDataVerifier,
	VerificationException,
} from "@apple/app-store-server-library";
import type { Response as LibraryResponse } from "node-fetch";
import type { Logger } from "pino";
import type { Clock } from "#lib/clock";
import { DAY_MS, HOUR_MS, type ProPlan } from "./entitlement.ts";
import type { EntitlementService, StoreEvents } from "./entitlement-service.ts";
import type { EntitlementLedger } from "./ledger.ts";

const APPLE_PRODUCTS: ReadonlyMap<string, ProPlan> = new Map([
	["com.getsession.org.pro_sub_1_month", "1m"],
	["com.getsession.org.pro_sub_3_months", "3m"],
	["com.getsession.org.pro_sub_12_months", "1y"],
]);

/** Apple retries a notification for about three days (1, 12, 24, 48 and 72 hours apart). */
const PRODUCTION_RESEND_WINDOW_MS = (1 + 12 + 24 + 48 + 72) * HOUR_MS + 30 * 60_000;

export interface AppleSettings {
	readonly bundleId: string;
	readonly environment: Environment;
	readonly appAppleId: number | undefined;
	/** DER of Apple's root certificates (AppleRootCA-G3 and friends), or a test fixture's. */
	readonly rootCertificates: readonly Buffer[];
	/** OCSP revocation checks and checking expiry against now; off only for tests. */
	readonly onlineChecks: boolean;
}

/** How far back Apple serves notification history: 180 days in production, 30 in the sandbox. */
const HISTORY_REACH_MS = { Production: 180 * DAY_MS, Sandbox: 30 * DAY_MS };
/** Each run re-reads this much before the last one's end, so a notification Apple recorded late is seen. */
const HISTORY_OVERLAP_MS = HOUR_MS;

export interface AppStoreApiSettings {
	/** The App Store Connect API key (.p8 PEM), its id and the team's issuer id. */
	readonly privateKey: string;
	readonly keyId: string;
	readonly issuerId: string;
	/** The App Store Server API's base URL (a fake's, in tests). */
	readonly baseUrl: string;
}

/**
 * Apple's App Store Server API client, sending to the configured base URL: the library picks its URL from
 * the environment alone, and `makeFetchRequest` is the transport hook it leaves subclasses.
 */
class AppStoreServerApi extends AppStoreServerAPIClient {
	readonly #baseUrl: string;

	constructor(settings: AppStoreApiSettings, bundleId: string, environment: Environment) {
		super(settings.privateKey, settings.keyId, settings.issuerId, bundleId, environment);
		this.#baseUrl = settings.baseUrl.replace(/\/+$/, "");
	}

	protected override async makeFetchRequest(
		path: string,
		query: URLSearchParams,
		method: string,
		body: string | Buffer | undefined,
		headers: Record<string, string>,
	): Promise<LibraryResponse> {
		const response = await fetch(`${this.#baseUrl}${path}?${query}`, {
			method,
			headers,
			...(body === undefined ? {} : { body }),
		});
		// The library reads only ok, status and json(), which the platform's Response has too.
		return response as unknown as LibraryResponse;
	}
}

/** A payload that does not verify: not from Apple, so not worth a retry. */
export class UnverifiedNotificationError extends Error {
	constructor(cause: unknown) {
		super("the notification's signature or certificate chain did not verify", { cause });
		this.name = "UnverifiedNotificationError";
	}
}

export class AppleNotifications {
	readonly #verifier: SignedDataVerifier;
	readonly #settings: AppleSettings;
	readonly #service: EntitlementService;
	readonly #clock: Clock;
	readonly #resendWindowMs: number;

	constructor(settings: AppleSettings, service: EntitlementService, clock: Clock) {
		this.#verifier = new SignedDataVerifier(
			[...settings.rootCertificates],
			settings.onlineChecks,
			settings.environment,
			settings.bundleId,
			settings.appAppleId,
		);
		this.#settings = settings;
		this.#service = service;
		this.#clock = clock;
		this.#resendWindowMs = settings.environment === "Production" ? PRODUCTION_RESEND_WINDOW_MS : 0;
	}

	/**
	 * Verifies and applies one notification.
	 * @throws UnverifiedNotificationError for a payload Apple did not sign; any other error means "try
	 * again later" (the route answers 500 and Apple resends).
	 */
	async handle(signedPayload: string): Promise<"handled" | "duplicate"> {
		const notification = await this.#verify(() =>
			this.#verifier.verifyAndDecodeNotification(signedPayload),
		);
		const signedTransaction = notification.data?.signedTransactionInfo;
		const signedRenewal = notification.data?.signedRenewalInfo;
		const transaction =
			signedTransaction === undefined
				? undefined
				: await this.#verify(() => this.#verifier.verifyAndDecodeTransaction(signedTransaction));
		const renewal =
			signedRenewal === undefined
				? undefined
				: await this.#verify(() => this.#verifier.verifyAndDecodeRenewalInfo(signedRenewal));
		const uuid = notification.notificationUUID ?? "";
		const expiresAtMs = (notification.signedDate ?? this.#clock.nowMs()) + this.#resendWindowMs;
		return this.#service.storeTransaction(async (events) => {
			if (!(await events.recordAppleNotification(uuid, expiresAtMs))) return "duplicate";
			await applyNotification(events, notification, transaction, renewal);
			return "handled";
		});
	}

	/**
	 * Replays what Apple failed to deliver (the notification-history API, failures only) since a little
	 * before the last run, each notification in its own transaction: one that cannot be applied is logged
	 * and skipped rather than holding the others, or the checkpoint, back.
	 * @returns how many notifications were applied now (resends already handled are not counted).
	 */
	async catchUp(
		api: AppStoreApiSettings,
		ledger: EntitlementLedger,
		logger: Logger,
		nowMs: number,
	): Promise<number> {
		const client = new AppStoreServerApi(api, this.#settings.bundleId, this.#settings.environment);
		const reachStartMs =
			nowMs -
			HISTORY_REACH_MS[
				this.#settings.environment === Environment.PRODUCTION ? "Production" : "Sandbox"
			];
		const checkpoint = await ledger.appleCatchUpCheckpoint();
		const startDate = Math.max(reachStartMs, (checkpoint ?? 0) - HISTORY_OVERLAP_MS);
		let applied = 0;
		let paginationToken: string | undefined;
		do {
			const page = await client.getNotificationHistory(paginationToken ?? null, {
				startDate,
				endDate: nowMs,
				onlyFailures: true,
			});
			for (const item of page.notificationHistory ?? []) {
				if (item.signedPayload === undefined) continue;
				try {
					if ((await this.handle(item.signedPayload)) === "handled") applied += 1;
				} catch (error) {
					logger.error({ err: error }, "App Store notification from history not applied");
				}
			}
			paginationToken = page.hasMore ? page.paginationToken : undefined;
		} while (paginationToken !== undefined);
		await ledger.setAppleCatchUpCheckpoint(nowMs);
		return applied;
	}

	async #verify<T>(decode: () => Promise<T>): Promise<T> {
		try {
			return await decode();
		} catch (error) {
			if (error instanceof VerificationException) throw new UnverifiedNotificationError(error);
			throw error;
		}
	}
}

function required<T>(value: T | undefined | null, name: string): T {
	if (value === undefined || value === null) throw new Error(`notification lacks ${name}`);
	return value;
}

function paymentOf(transaction: JWSTransactionDecodedPayload) {
	const productId = required(transaction.productId, "productId");
	const plan = APPLE_PRODUCTS.get(productId);
	if (plan === undefined) throw new Error(`unknown App Store product ${productId}`);
	const expiresAtMs = required(transaction.expiresDate, "expiresDate");
	return {
		provider: "app_store" as const,
		plan,
		externalId: required(transaction.transactionId, "transactionId"),
		lineage: required(transaction.originalTransactionId, "originalTransactionId"),
		// Bound by the UUID the iOS client derives from its master key (appAccountTokenFor).
		claimKey: transaction.appAccountToken ? transaction.appAccountToken.toLowerCase() : null,
		autoRenewing: true,
		purchasedAtMs: required(transaction.purchaseDate, "purchaseDate"),
		expiryAtMs: expiresAtMs,
		gracePeriodMs: null,
		platformRefundExpiryAtMs: expiresAtMs,
	};
}

async function applyNotification(
	events: StoreEvents,
	notification: ResponseBodyV2DecodedPayload,
	transaction: JWSTransactionDecodedPayload | undefined,
	renewal: JWSRenewalInfoDecodedPayload | undefined,
): Promise<void> {
	const type = String(notification.notificationType ?? "");
	const subtype = notification.subtype === undefined ? undefined : String(notification.subtype);
	const lineage = () =>
		required(
			required(transaction, "signedTransactionInfo").originalTransactionId,
			"originalTransactionId",
		);
	const upgrade = async () => {
		const current = required(transaction, "signedTransactionInfo");
		const revoked = await events.revokeSubscription(
			"app_store",
			lineage(),
			required(current.purchaseDate, "purchaseDate"),
		);
		if (!revoked) throw new Error(`upgrade of unknown subscription ${lineage()}`);
		await events.addPayment(paymentOf(current));
	};
	switch (type) {
		case "SUBSCRIBED":
		case "DID_RENEW":
		case "ONE_TIME_CHARGE":
			await events.addPayment(paymentOf(required(transaction, "signedTransactionInfo")));
			return;
		case "DID_CHANGE_RENEWAL_PREF":
		case "OFFER_REDEEMED":
			if (subtype === "UPGRADE") return upgrade();
			if (subtype === "DOWNGRADE") {
				if (type === "DID_CHANGE_RENEWAL_PREF")
					await events.setAutoRenewing("app_store", lineage(), true);
				return;
			}
			if (type === "OFFER_REDEEMED")
				await events.addPayment(paymentOf(required(transaction, "signedTransactionInfo")));
			return;
		case "REFUND":
		case "REVOKE": {
			const at = required(
				required(transaction, "signedTransactionInfo").revocationDate,
				"revocationDate",
			);
			if (!(await events.revokeSubscription("app_store", lineage(), at)))
				throw new Error(`refund of unknown subscription ${lineage()}`);
			return;
		}
		case "REFUND_REVERSED":
			await events.reinstatePayment(
				"app_store",
				required(required(transaction, "signedTransactionInfo").transactionId, "transactionId"),
				renewal?.autoRenewStatus === undefined ? true : Number(renewal.autoRenewStatus) === 1,
			);
			return;
		case "DID_CHANGE_RENEWAL_STATUS":
			if (subtype !== "AUTO_RENEW_ENABLED" && subtype !== "AUTO_RENEW_DISABLED")
				throw new Error(`DID_CHANGE_RENEWAL_STATUS with subtype ${subtype}`);
			await events.setAutoRenewing("app_store", lineage(), subtype === "AUTO_RENEW_ENABLED");
			return;
		case "DID_FAIL_TO_RENEW": {
			if (subtype !== "GRACE_PERIOD") return;
			const graceEndsAtMs = required(renewal?.gracePeriodExpiresDate, "gracePeriodExpiresDate");
			const expiresAtMs = required(transaction?.expiresDate, "expiresDate");
			await events.setGracePeriod("app_store", lineage(), Math.max(graceEndsAtMs - expiresAtMs, 0));
			return;
		}
		case "REFUND_DECLINED":
			// Upstream meant this and crashed instead (§12); a legacy iOS client set the request.
			await events.declineRefund(
				"app_store",
				required(required(transaction, "signedTransactionInfo").transactionId, "transactionId"),
			);
			return;
		case "TEST":
		case "EXPIRED":
		case "GRACE_PERIOD_EXPIRED":
		case "CONSUMPTION_REQUEST":
		case "PRICE_INCREASE":
			return;
		default:
			throw new Error(`App Store notification ${type} is not handled`);
	}
}
