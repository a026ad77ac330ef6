/**
 * Google Play real-time developer notifications (specs/session-pro.md §9.2, upstream 0.3.0
 * providers/google_play/notifications.py). A notification only says "something about this purchase token
 * changed": intake records its Pub/Sub message id and queues the token in one transaction, and a leased
 * drain fetches the subscription resource (purchases.subscriptionsv2.get) and writes down what it now is.
 * Order of arrival stops mattering, because nothing applies a delta. Two facts the resource cannot tell
 * are taken from the notification itself: a REVOKED subscription, and a voided (refunded) order, which
 * the legacy backend ignored.
 */
import type { androidpublisher_v3 } from "@googleapis/androidpublisher";
import type { Logger } from "pino";
import { z } from "zod";
import type { Clock } from "#lib/clock";
import { parseJsonBody } from "#lib/json-body";
import { DAY_MS, HOUR_MS, type ProPlan } from "./entitlement.ts";
import type { EntitlementService, StoreEvents } from "./entitlement-service.ts";
import type { EntitlementLedger, GoogleReconcileClaim } from "./ledger.ts";

export type SubscriptionResource = androidpublisher_v3.Schema$SubscriptionPurchaseV2;

/** What the module needs of the Play Developer API. */
export interface GooglePlayApi {
	subscription(purchaseToken: string): Promise<SubscriptionResource>;
	acknowledge(productId: string, purchaseToken: string): Promise<void>;
}

export interface PulledMessage {
	readonly ackId: string;
	readonly messageId: string;
	readonly data: Buffer;
}

/** What the module needs of a Pub/Sub pull subscription. */
export interface PubSubSubscription {
	pull(maxMessages: number): Promise<PulledMessage[]>;
	acknowledge(ackIds: readonly string[]): Promise<void>;
}

/** A message that can never be handled as sent (malformed, or for another app): not worth a retry here. */
export class InvalidGoogleNotificationError extends Error {
	constructor(message: string) {
		super(message);
		this.name = "InvalidGoogleNotificationError";
	}
}

const BASE_PLANS: ReadonlyMap<string, ProPlan> = new Map([
	["session-pro-1-month", "1m"],
	["session-pro-3-months", "3m"],
	["session-pro-12-months", "1y"],
]);

const SUBSCRIPTION_REVOKED = 12;
const PRODUCT_TYPE_SUBSCRIPTION = 1;
const REFUND_TYPE_FULL_REFUND = 1;

/** Google refunds a subscription on request for two days after the charge. */
const REFUND_WINDOW_MS = 2 * DAY_MS;
/** Google refunds a purchase left unacknowledged for three days; a day before that is an emergency. */
const ACK_ALERT_AFTER_MS = 2 * DAY_MS;
/** Pub/Sub keeps an unacknowledged message for seven days; a message id older than that cannot return. */
export const GOOGLE_NOTIFICATION_RETAIN_FOR_MS = 8 * DAY_MS;

const PULL_BATCH = 64;
const RECONCILE_BATCH = 32;
export const GOOGLE_API_TIMEOUT_MS = 15_000;
/** The drain is serial: its worst case is every token in the batch timing out, twice over for the writes. */
const RECONCILE_LEASE_MS = 2 * RECONCILE_BATCH * GOOGLE_API_TIMEOUT_MS;
const RETRY_MIN_MS = 60_000;
const RETRY_MAX_MS = 6 * HOUR_MS;
/** About a week of retries: past Pub/Sub's retention and Google's own three-day refund of the purchase. */
const MAX_ATTEMPTS = 36;
const STUCK_ATTEMPTS = 5;

const rtdnSchema = z.object({
	version: z.string(),
	packageName: z.string(),
	eventTimeMillis: z.string().regex(/^\d{1,16}$/, "expected decimal milliseconds"),
	subscriptionNotification: z
		.object({
			version: z.string(),
			notificationType: z.int(),
			purchaseToken: z.string().min(1),
		})
		.optional(),
	voidedPurchaseNotification: z
		.object({
			purchaseToken: z.string().min(1),
			orderId: z.string().min(1),
			productType: z.int(),
			refundType: z.int(),
		})
		.optional(),
	oneTimeProductNotification: z.looseObject({}).optional(),
	testNotification: z.looseObject({}).optional(),
});

type Rtdn = z.infer<typeof rtdnSchema>;

export interface GoogleNotification {
	readonly messageId: string;
	readonly eventAtMs: number;
	readonly body: Rtdn;
}

const shortToken = (token: string) => `${token.slice(0, 8)}…`;

export interface GooglePlaySettings {
	readonly packageName: string;
}

export class GooglePlayNotifications {
	readonly #settings: GooglePlaySettings;
	readonly #service: EntitlementService;
	readonly #ledger: EntitlementLedger;
	readonly #api: GooglePlayApi;
	readonly #clock: Clock;
	readonly #logger: Logger;

	constructor(
		settings: GooglePlaySettings,
		dependencies: {
			readonly service: EntitlementService;
			readonly ledger: EntitlementLedger;
			readonly api: GooglePlayApi;
			readonly clock: Clock;
			readonly logger: Logger;
		},
	) {
		this.#settings = settings;
		this.#service = dependencies.service;
		this.#ledger = dependencies.ledger;
		this.#api = dependencies.api;
		this.#clock = dependencies.clock;
		this.#logger = dependencies.logger;
	}

	/**
	 * Reads one Pub/Sub message's data (the RTDN JSON).
	 * @throws InvalidGoogleNotificationError naming what is wrong, for this app or any other.
	 */
	decode(messageId: string, data: Buffer): GoogleNotification {
		let json: unknown;
		try {
			json = parseJsonBody(data.toString("utf8"));
		} catch {
			throw new InvalidGoogleNotificationError("message.data: not base64 of a JSON object");
		}
		const parsed = rtdnSchema.safeParse(json);
		if (!parsed.success) {
			const issue = parsed.error.issues[0];
			throw new InvalidGoogleNotificationError(
				`message.data.${issue?.path.join(".") ?? ""}: ${issue?.message ?? "invalid"}`,
			);
		}
		const body = parsed.data;
		if (body.packageName !== this.#settings.packageName)
			throw new InvalidGoogleNotificationError(
				`message.data.packageName: ${body.packageName} is not this backend's app (${this.#settings.packageName})`,
			);
		const blocks = [
			body.subscriptionNotification,
			body.voidedPurchaseNotification,
			body.oneTimeProductNotification,
			body.testNotification,
		].filter((block) => block !== undefined);
		if (blocks.length !== 1)
			throw new InvalidGoogleNotificationError(
				`message.data: expected exactly one notification block, found ${blocks.length}`,
			);
		return { messageId, eventAtMs: Number(body.eventTimeMillis), body };
	}

	/**
	 * Records one notification and what it implies, in one transaction; a redelivered message is answered
	 * without a second effect. Acknowledge the message only after this resolves.
	 */
	intake(notification: GoogleNotification): Promise<"handled" | "duplicate"> {
		const nowMs = this.#clock.nowMs();
		const { body, eventAtMs } = notification;
		return this.#service.storeTransaction(async (events) => {
			if (!(await events.recordGoogleNotification(notification.messageId, eventAtMs)))
				return "duplicate";
			// A clock-skewed eventTime must not hold the token back: the queue time is a floor.
			const eligibleAtMs = Math.min(eventAtMs, nowMs);
			const subscription = body.subscriptionNotification;
			if (subscription !== undefined) {
				await events.enqueueGoogleReconcile(subscription.purchaseToken, eligibleAtMs);
				// A revoked subscription reads as EXPIRED with a back-dated term, like one that ran out.
				if (subscription.notificationType === SUBSCRIPTION_REVOKED)
					await events.revokeSubscription("google_play", subscription.purchaseToken, eventAtMs);
			}
			const voided = body.voidedPurchaseNotification;
			if (voided !== undefined) await this.#applyVoided(events, voided, eventAtMs, eligibleAtMs);
			if (body.oneTimeProductNotification !== undefined)
				this.#logger.warn("Google Play one-time product notification ignored: none is sold");
			if (body.testNotification !== undefined)
				this.#logger.info("Google Play test notification: the Pub/Sub pipeline is connected");
			return "handled";
		});
	}

	/** Pulls a batch, applies it in event-time order and acknowledges what was committed. */
	async pull(subscription: PubSubSubscription): Promise<number> {
		const messages = await subscription.pull(PULL_BATCH);
		const decoded: { ackId: string; notification: GoogleNotification }[] = [];
		for (const message of messages) {
			try {
				decoded.push({
					ackId: message.ackId,
					notification: this.decode(message.messageId, message.data),
				});
			} catch (error) {
				// Left unacknowledged: Pub/Sub redelivers it, after a deploy that understands it if need be.
				this.#logger.warn(
					{ err: error, messageId: message.messageId },
					"Google Play notification could not be read",
				);
			}
		}
		decoded.sort((a, b) => a.notification.eventAtMs - b.notification.eventAtMs);
		const committed: string[] = [];
		for (const { ackId, notification } of decoded) {
			try {
				await this.intake(notification);
				committed.push(ackId);
			} catch (error) {
				this.#logger.error(
					{ err: error, messageId: notification.messageId },
					"Google Play notification not applied; Pub/Sub will redeliver it",
				);
			}
		}
		if (committed.length > 0) await subscription.acknowledge(committed);
		return committed.length;
	}

	/** Reconciles every queued token whose turn has come; returns how many it attempted. */
	async drain(nowMs: number): Promise<number> {
		const claims = await this.#ledger.claimDueGoogleReconciles(
			nowMs,
			nowMs + RECONCILE_LEASE_MS,
			RECONCILE_BATCH,
		);
		for (const claim of claims) {
			try {
				// Outside any transaction: no row stays locked across a call to Google.
				const resource = await this.#api.subscription(claim.purchaseToken);
				await this.#service.storeTransaction((events) =>
					this.#converge(events, claim.purchaseToken, resource, nowMs),
				);
				await this.#ledger.finishGoogleReconcile(claim);
			} catch (error) {
				await this.#reconcileFailed(claim, error, nowMs);
			}
		}
		return claims.length;
	}

	/** Tells Google of every purchase recorded but not yet acknowledged; the only place that does. */
	async acknowledgePurchases(nowMs: number): Promise<void> {
		for (const pending of await this.#ledger.pendingGoogleAcks()) {
			const token = pending.purchaseToken;
			let acknowledged = false;
			try {
				await this.#api.acknowledge(pending.productId, token);
				acknowledged = true;
			} catch (error) {
				// Google answers 400 for a purchase acknowledged before; its own state says which this is.
				acknowledged = await this.#api
					.subscription(token)
					.then(
						(resource) => resource.acknowledgementState === "ACKNOWLEDGEMENT_STATE_ACKNOWLEDGED",
					)
					.catch(() => false);
				if (!acknowledged) {
					const ageMs = nowMs - pending.purchasedAtMs;
					const level = ageMs >= ACK_ALERT_AFTER_MS ? "error" : "warn";
					this.#logger[level](
						{ err: error, token: shortToken(token), ageHours: Math.floor(ageMs / HOUR_MS) },
						"Google Play purchase not acknowledged yet; Google refunds it three days after purchase",
					);
				}
			}
			if (acknowledged) {
				await this.#ledger.clearGoogleAck(token);
				this.#logger.info({ token: shortToken(token) }, "Google Play purchase acknowledged");
			}
		}
	}

	async #applyVoided(
		events: StoreEvents,
		voided: NonNullable<Rtdn["voidedPurchaseNotification"]>,
		eventAtMs: number,
		eligibleAtMs: number,
	): Promise<void> {
		if (
			voided.productType !== PRODUCT_TYPE_SUBSCRIPTION ||
			voided.refundType !== REFUND_TYPE_FULL_REFUND
		) {
			this.#logger.warn(
				{ productType: voided.productType, refundType: voided.refundType },
				"Google Play voided purchase ignored: only fully refunded subscriptions are sold",
			);
			return;
		}
		const externalId = `${voided.purchaseToken}|${voided.orderId}`;
		if (!(await events.revokePayment("google_play", externalId, eventAtMs)))
			this.#logger.warn(
				{ token: shortToken(voided.purchaseToken) },
				"Google Play voided an order this backend has not recorded",
			);
		await events.enqueueGoogleReconcile(voided.purchaseToken, eligibleAtMs);
	}

	/** Writes down what the subscription resource says: the current order's term, renewal and ownership. */
	async #converge(
		events: StoreEvents,
		purchaseToken: string,
		resource: SubscriptionResource,
		nowMs: number,
	): Promise<void> {
		if (resource.kind !== "androidpublisher#subscriptionPurchaseV2")
			throw new Error(`subscription resource of kind ${resource.kind}`);
		const state = resource.subscriptionState;
		// Nothing has been paid for yet, or the payment never went through.
		if (
			state === "SUBSCRIPTION_STATE_PENDING" ||
			state === "SUBSCRIPTION_STATE_PENDING_PURCHASE_CANCELED"
		)
			return;
		const line = resource.lineItems?.[0];
		const productId = line?.productId;
		const orderId = line?.latestSuccessfulOrderId;
		const expiryAtMs = Date.parse(line?.expiryTime ?? "");
		if (!line || !productId || !orderId || Number.isNaN(expiryAtMs))
			throw new Error("subscription resource lacks lineItems[0] productId, orderId or expiryTime");
		if (line.prepaidPlan) throw new Error("a prepaid plan: only auto-renewing plans are sold");
		const basePlanId = line.offerDetails?.basePlanId ?? "";
		const plan = BASE_PLANS.get(basePlanId);
		if (plan === undefined) throw new Error(`unknown base plan ${basePlanId}`);
		const autoRenewing = line.autoRenewingPlan?.autoRenewEnabled === true;
		const externalId = `${purchaseToken}|${orderId}`;
		const existing = await events.findPayment("google_play", externalId);
		if (existing !== null) {
			// Play applies grace by extending expiryTime; keep the paid term and record the extension beside it.
			const inGrace = state === "SUBSCRIPTION_STATE_IN_GRACE_PERIOD";
			const paidUntilMs = inGrace ? Math.min(existing.expiryAtMs, expiryAtMs) : expiryAtMs;
			await events.convergePayment("google_play", externalId, {
				expiryAtMs: paidUntilMs,
				gracePeriodMs: inGrace ? expiryAtMs - paidUntilMs : null,
				autoRenewing,
			});
		} else {
			await events.addPayment({
				provider: "google_play",
				plan,
				externalId,
				lineage: purchaseToken,
				claimKey: await accountOf(events, resource),
				autoRenewing,
				purchasedAtMs: nowMs,
				expiryAtMs,
				gracePeriodMs: null,
				platformRefundExpiryAtMs: nowMs + REFUND_WINDOW_MS,
			});
		}
		if (resource.acknowledgementState !== "ACKNOWLEDGEMENT_STATE_ACKNOWLEDGED")
			await events.requireGoogleAck(purchaseToken, productId, nowMs);
		// Google sends nothing more for a token it replaced (an upgrade or downgrade): look at it now.
		if (resource.linkedPurchaseToken)
			await events.enqueueGoogleReconcile(resource.linkedPurchaseToken, nowMs);
	}

	async #reconcileFailed(claim: GoogleReconcileClaim, error: unknown, nowMs: number) {
		const attempt = claim.attempts + 1;
		const retryAtMs =
			nowMs + Math.min(RETRY_MIN_MS * 2 ** Math.min(claim.attempts, 16), RETRY_MAX_MS);
		const park = attempt >= MAX_ATTEMPTS;
		const context = {
			err: error,
			token: shortToken(claim.purchaseToken),
			attempt,
			retryAt: new Date(retryAtMs).toISOString(),
		};
		if (park)
			this.#logger.error(
				context,
				"Google Play purchase parked: it will not register without an operator",
			);
		else if (attempt >= STUCK_ATTEMPTS)
			this.#logger.error(context, "Google Play purchase keeps failing to reconcile");
		else this.#logger.warn(context, "Google Play purchase failed to reconcile; will retry");
		await this.#ledger.failGoogleReconcile(claim, {
			retryAtMs,
			error: error instanceof Error ? error.message : String(error),
			park,
		});
	}
}

/**
 * The account a purchase belongs to, as the claim key: the obfuscated account id the Android client sets
 * (hex of SHA-256 of the master key; see claimsOf). A resubscription made outside the app carries it only in the expired
 * subscription's context, and failing that our own record of the expired token names the holder.
 */
async function accountOf(events: StoreEvents, resource: SubscriptionResource): Promise<string> {
	const context = resource.outOfAppPurchaseContext;
	const id =
		resource.externalAccountIdentifiers?.obfuscatedExternalAccountId ??
		context?.expiredExternalAccountIdentifiers?.obfuscatedExternalAccountId;
	if (id) {
		const normalized = id.replace(/^0x/, "").toLowerCase();
		if (!/^[0-9a-f]{64}$/.test(normalized))
			throw new Error("obfuscatedExternalAccountId is not 32 bytes of hex");
		return normalized;
	}
	if (context?.expiredPurchaseToken) {
		const holder = await events.masterKeyOfLineage("google_play", context.expiredPurchaseToken);
		if (holder !== null) return Buffer.from(holder).toString("hex");
	}
	// Left unrecorded, so never acknowledged: Google refunds the user rather than strand the money.
	throw new Error("the purchase names no account (no obfuscatedExternalAccountId)");
}
