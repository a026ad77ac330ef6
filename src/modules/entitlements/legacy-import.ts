/**
 * `tollgate entitlements import`: moves a Python Session Pro backend (specs/session-pro.md §6, schema 9)
 * into an empty Tollgate Pro ledger in one transaction, so that its clients see no change: the same signing
 * key, generation indexes and salt (the proofs it issued keep verifying and keep their gen_index_hash), its
 * revocations and ticket, its users and payments, and the store bookkeeping that keeps notifications from
 * being applied twice. The source is read in one snapshot; nothing is written to it.
 */
import { randomBytes } from "node:crypto";
import { ed25519FromSeed } from "#lib/ed25519";
import {
	DAY_MS,
	HOUR_MS,
	type PaymentProvider,
	type ProPlan,
	REVOCATION_RETAIN_FOR_MS,
} from "./entitlement.ts";
import type { NewPayment } from "./ledger.ts";
import { LegacyPaymentStatus, LegacyPlan, LegacyProvider } from "./legacy-protocol.ts";

/** The schema the importer reads; the Python backend migrates older databases to it when it starts. */
export const LEGACY_SCHEMA_VERSION = 9;

/** The `runtime` row. */
export interface LegacyRuntime {
	/** The next gen_index the backend would have allocated. */
	readonly genIndex: number;
	readonly genIndexSalt: Uint8Array;
	/** The Ed25519 seed the backend signs with. */
	readonly backendKey: Uint8Array;
	readonly appleCheckpointMs: number;
	readonly revocationTicket: number;
}

export interface LegacyUser {
	readonly masterPkey: Uint8Array;
	readonly genIndex: number;
	/** Including the grace period when auto-renewing, as the backend stores it. */
	readonly expiryMs: number;
	readonly gracePeriodMs: number;
	readonly autoRenewing: boolean;
}

export interface LegacyPayment {
	readonly id: number;
	readonly masterPkey: Uint8Array | null;
	readonly status: number;
	readonly plan: number;
	readonly provider: number;
	readonly autoRenewing: boolean;
	readonly unredeemedMs: number;
	readonly redeemedMs: number | null;
	readonly expiryMs: number;
	readonly gracePeriodMs: number | null;
	readonly platformRefundExpiryMs: number;
	readonly revokedMs: number | null;
	readonly appleOriginalTxId: string | null;
	readonly appleTxId: string | null;
	readonly googlePaymentToken: string | null;
	readonly googleOrderId: string | null;
	readonly rangeproofOrderId: string | null;
	readonly refundRequestedMs: number;
	readonly googleObfuscatedAccountId: Uint8Array | null;
	readonly appleAppAccountToken: string;
}

export interface LegacyRevocation {
	readonly genIndex: number;
	/** 0 on rows from before the backend's schema 9. */
	readonly creationMs: number;
	readonly expiryMs: number;
}

export interface LegacyGoogleNotification {
	readonly messageId: string;
	readonly handled: boolean;
	/** The Pub/Sub ReceivedMessage as JSON while unhandled; null once handled. */
	readonly payload: string | null;
	/** The event time plus 8 days. */
	readonly expiryMs: number;
}

export interface LegacyUserError {
	/** The Google purchase token or the Apple original transaction id. */
	readonly paymentId: string;
	readonly provider: number;
}

/**
 * The Python backend's database, read in one snapshot opened by the adapter: every method sees the same
 * state, whatever the backend (if still running) writes meanwhile.
 */
export interface LegacyBackendSource {
	/** For messages: the engine and the path or database name, never a password. */
	readonly description: string;
	schemaVersion(): Promise<number>;
	runtime(): Promise<LegacyRuntime>;
	users(): Promise<LegacyUser[]>;
	payments(): Promise<LegacyPayment[]>;
	revocations(): Promise<LegacyRevocation[]>;
	appleNotifications(): Promise<{ readonly uuid: string; readonly expiryMs: number }[]>;
	googleNotifications(): Promise<LegacyGoogleNotification[]>;
	userErrors(): Promise<LegacyUserError[]>;
	close(): Promise<void>;
}

export interface ImportedUser {
	readonly masterPkey: Uint8Array;
	/** The legacy gen_index, kept as the id of the account's current generation. */
	readonly generationId: number;
	readonly generationToken: Uint8Array;
	/** When the import made it (the backend does not record when it allocated an index). */
	readonly generationIssuedAtMs: number;
	readonly generationRevokedAtMs: number | null;
	/** Paid through, without grace (Tollgate adds the grace while auto-renewing). */
	readonly expiryAtMs: number;
	readonly gracePeriodMs: number | null;
	readonly autoRenewing: boolean;
	readonly proofExpiryOffsetSeconds: number;
}

/** A store payment as Tollgate records it, with what the backend had done with it since. */
export interface ImportedPayment extends NewPayment {
	/** The master key of the account it is bound to; null while unclaimed. */
	readonly masterPkey: Uint8Array | null;
	readonly redeemedAtMs: number | null;
	readonly revokedAtMs: number | null;
	readonly refundRequestedAtMs: number | null;
}

/** What is in Tollgate's Pro ledger before an import. */
export interface ImportTargetState {
	readonly users: number;
	readonly payments: number;
	/** The import made before, if any. */
	readonly imported: {
		readonly backendSeed: Uint8Array;
		readonly importedAtMs: number;
		readonly summary: string;
	} | null;
}

/** Writes inside the import's one transaction. */
export interface LegacyImportWriter {
	state(): Promise<ImportTargetState>;
	insertUsers(users: readonly ImportedUser[]): Promise<void>;
	insertPayments(payments: readonly ImportedPayment[]): Promise<void>;
	insertLegacyRevocations(
		revocations: readonly {
			readonly genIndex: number;
			readonly createdAtMs: number;
			readonly listedUntilMs: number;
		}[],
	): Promise<void>;
	insertAppleNotifications(
		notifications: readonly { readonly uuid: string; readonly expiresAtMs: number }[],
	): Promise<void>;
	insertGoogleNotifications(
		notifications: readonly { readonly messageId: string; readonly eventAtMs: number }[],
	): Promise<void>;
	/** Queues purchase tokens for a fresh look at Google's subscription resource. */
	enqueueGoogleReconciles(purchaseTokens: readonly string[], eligibleAtMs: number): Promise<void>;
	/** Makes later generation ids start at `nextGenerationId` at the lowest. */
	reserveGenerationIdsBelow(nextGenerationId: number): Promise<void>;
	finish(record: {
		readonly backendSeed: Uint8Array;
		readonly genIndexSalt: Uint8Array;
		readonly revocationTicket: number;
		readonly appleCheckpointMs: number | null;
		readonly importedAtMs: number;
		readonly summary: string;
	}): Promise<void>;
}

export interface LegacyImportTarget {
	state(): Promise<ImportTargetState>;
	/** Runs `work` in one transaction: all of it is committed, or none. */
	write<T>(work: (writer: LegacyImportWriter) => Promise<T>): Promise<T>;
}

/** What an import finds and brings over; printed, and kept to recognise a second run. */
export interface LegacyImportSummary {
	readonly backend_pubkey: string;
	readonly users: number;
	readonly payments: {
		readonly unredeemed: number;
		readonly redeemed: number;
		readonly expired: number;
		readonly revoked: number;
	};
	readonly revocations: number;
	readonly apple_notifications: number;
	readonly google_notifications: { readonly handled: number; readonly queued_for_a_look: number };
	readonly google_tokens_with_errors_queued: number;
	readonly app_store_payments_with_errors: number;
	readonly next_gen_index: number;
	readonly revocation_ticket: number;
}

export type LegacyImportOutcome =
	| { readonly kind: "imported" | "dry_run"; readonly summary: LegacyImportSummary }
	| {
			readonly kind: "already_imported";
			readonly importedAtMs: number;
			readonly summary: LegacyImportSummary;
	  }
	| { readonly kind: "refused"; readonly reason: string };

/** Something in the source that has no faithful place in Tollgate: the import stops and names it. */
export class LegacyImportError extends Error {}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const GOOGLE_NOTIFICATION_EXPIRY_AFTER_EVENT_MS = 8 * DAY_MS;
/**
 * The backend kept an App Store notification's UUID (1+12+24+48+72) minutes past it where Apple retries
 * for as many hours (§12): imported UUIDs are kept the difference longer, as long as Tollgate keeps its own.
 */
const APPLE_RESEND_WINDOW_SHORTFALL_MS = (1 + 12 + 24 + 48 + 72) * (HOUR_MS - 60_000);
const TAG_BYTES = 32;

const PROVIDERS: ReadonlyMap<number, PaymentProvider> = new Map([
	[LegacyProvider.googlePlay, "google_play"],
	[LegacyProvider.appStore, "app_store"],
	[LegacyProvider.rangeproof, "stf"],
]);

const PLANS: ReadonlyMap<number, ProPlan> = new Map([
	[LegacyPlan.oneMonth, "1m"],
	[LegacyPlan.threeMonths, "3m"],
	[LegacyPlan.twelveMonths, "1y"],
]);

function roundUpToNextUtcDay(ms: number): number {
	return Math.ceil(ms / DAY_MS) * DAY_MS;
}

function required(value: string | null, column: string, paymentId: number): string {
	if (value === null || value === "")
		throw new LegacyImportError(`payment ${paymentId}: ${column} is empty`);
	return value;
}

/** A legacy payment row in Tollgate's terms: store identifiers become external id, lineage and claim key. */
export function importedPayment(row: LegacyPayment): ImportedPayment {
	const provider = PROVIDERS.get(row.provider);
	if (provider === undefined)
		throw new LegacyImportError(
			`payment ${row.id}: payment_provider ${row.provider} is not a store`,
		);
	const plan = PLANS.get(row.plan);
	if (plan === undefined)
		throw new LegacyImportError(`payment ${row.id}: plan ${row.plan} is not a plan`);
	const identity = (() => {
		switch (provider) {
			case "google_play": {
				const token = required(row.googlePaymentToken, "google_payment_token", row.id);
				const order = required(row.googleOrderId, "google_order_id", row.id);
				return {
					externalId: `${token}|${order}`,
					lineage: token,
					claimKey:
						row.googleObfuscatedAccountId === null ? null : hex(row.googleObfuscatedAccountId),
				};
			}
			case "app_store":
				return {
					externalId: required(row.appleTxId, "apple_tx_id", row.id),
					lineage: required(row.appleOriginalTxId, "apple_original_tx_id", row.id),
					claimKey: row.appleAppAccountToken === "" ? null : row.appleAppAccountToken,
				};
			case "stf": {
				const order = required(row.rangeproofOrderId, "rangeproof_order_id", row.id);
				return { externalId: order, lineage: order, claimKey: null };
			}
		}
	})();
	const isRevoked = row.status === LegacyPaymentStatus.revoked;
	return {
		masterPkey: row.status === LegacyPaymentStatus.unredeemed ? null : row.masterPkey,
		provider,
		plan,
		...identity,
		autoRenewing: row.autoRenewing,
		purchasedAtMs: row.unredeemedMs,
		redeemedAtMs: row.masterPkey === null ? null : row.redeemedMs,
		expiryAtMs: row.expiryMs,
		gracePeriodMs: row.gracePeriodMs,
		platformRefundExpiryAtMs: row.platformRefundExpiryMs,
		revokedAtMs: isRevoked ? (row.revokedMs ?? row.expiryMs) : null,
		refundRequestedAtMs: row.refundRequestedMs === 0 ? null : row.refundRequestedMs,
	};
}

/** The purchase token a Pub/Sub message the backend had not handled yet is about; null if unreadable. */
export function purchaseTokenOf(payload: string | null): string | null {
	if (payload === null) return null;
	try {
		const received = JSON.parse(payload) as { message?: { data?: unknown } };
		const data = received.message?.data;
		if (typeof data !== "string") return null;
		const notification = JSON.parse(Buffer.from(data, "base64").toString("utf8")) as Record<
			string,
			{ purchaseToken?: unknown } | undefined
		>;
		for (const kind of [
			"subscriptionNotification",
			"voidedPurchaseNotification",
			"oneTimeProductNotification",
		]) {
			const token = notification[kind]?.purchaseToken;
			if (typeof token === "string" && token !== "") return token;
		}
		return null;
	} catch {
		return null;
	}
}

function countByStatus(payments: readonly LegacyPayment[]) {
	const count = (status: number) => payments.filter((payment) => payment.status === status).length;
	return {
		unredeemed: count(LegacyPaymentStatus.unredeemed),
		redeemed: count(LegacyPaymentStatus.redeemed),
		expired: count(LegacyPaymentStatus.expired),
		revoked: count(LegacyPaymentStatus.revoked),
	};
}

/** Everything read from the source, in the order the import writes it. */
interface Snapshot {
	readonly runtime: LegacyRuntime;
	readonly users: LegacyUser[];
	readonly payments: LegacyPayment[];
	readonly revocations: LegacyRevocation[];
	readonly apple: { readonly uuid: string; readonly expiryMs: number }[];
	readonly google: LegacyGoogleNotification[];
	readonly userErrors: LegacyUserError[];
}

function unhandledTokens(snapshot: Pick<Snapshot, "google">): {
	handled: number;
	tokens: string[];
} {
	const tokens = snapshot.google
		.filter((notification) => !notification.handled)
		.map((notification) => purchaseTokenOf(notification.payload))
		.filter((token) => token !== null);
	return { handled: snapshot.google.filter((notification) => notification.handled).length, tokens };
}

function erroredGoogleTokens(errors: readonly LegacyUserError[]): string[] {
	return errors
		.filter((error) => error.provider === LegacyProvider.googlePlay)
		.map((error) => error.paymentId);
}

function summaryOf(snapshot: Snapshot): LegacyImportSummary {
	const google = unhandledTokens(snapshot);
	return {
		backend_pubkey: hex(ed25519FromSeed(snapshot.runtime.backendKey).publicKey),
		users: snapshot.users.length,
		payments: countByStatus(snapshot.payments),
		revocations: snapshot.revocations.length,
		apple_notifications: snapshot.apple.length,
		google_notifications: { handled: google.handled, queued_for_a_look: google.tokens.length },
		google_tokens_with_errors_queued: erroredGoogleTokens(snapshot.userErrors).length,
		app_store_payments_with_errors: snapshot.userErrors.filter(
			(error) => error.provider === LegacyProvider.appStore,
		).length,
		next_gen_index: snapshot.runtime.genIndex,
		revocation_ticket: snapshot.runtime.revocationTicket,
	};
}

async function readAll(source: LegacyBackendSource, runtime: LegacyRuntime): Promise<Snapshot> {
	return {
		runtime,
		users: await source.users(),
		payments: await source.payments(),
		revocations: await source.revocations(),
		apple: await source.appleNotifications(),
		google: await source.googleNotifications(),
		userErrors: await source.userErrors(),
	};
}

/**
 * How long an imported revocation stays listed: at least until every proof of its generation has expired
 * (the Python backend could drop it earlier, §12). A legacy proof lasts at most a month past its issue,
 * which was before the revocation, or before this import when the row does not say when it was made.
 */
function listedUntil(revocation: LegacyRevocation, importedAtMs: number): number {
	const revokedBy = revocation.creationMs > 0 ? revocation.creationMs : importedAtMs;
	return Math.max(revocation.expiryMs, roundUpToNextUtcDay(revokedBy + REVOCATION_RETAIN_FOR_MS));
}

function checkRuntime(runtime: LegacyRuntime): void {
	if (runtime.backendKey.length !== 32)
		throw new LegacyImportError(
			`runtime.backend_key is ${runtime.backendKey.length} bytes, not 32`,
		);
	if (runtime.genIndexSalt.length !== 16)
		throw new LegacyImportError(
			`runtime.gen_index_salt is ${runtime.genIndexSalt.length} bytes, not 16`,
		);
}

function refusalForTarget(state: ImportTargetState): string | null {
	if (state.users === 0 && state.payments === 0) return null;
	return `Tollgate's Session Pro ledger already holds ${state.users} accounts and ${state.payments} payments; an import needs an empty one`;
}

async function sameAsBefore(
	source: LegacyBackendSource,
	runtime: LegacyRuntime,
	imported: NonNullable<ImportTargetState["imported"]>,
): Promise<LegacyImportOutcome> {
	const summary = summaryOf(await readAll(source, runtime));
	if (
		Buffer.from(imported.backendSeed).equals(Buffer.from(runtime.backendKey)) &&
		JSON.stringify(summary) === imported.summary
	)
		return { kind: "already_imported", importedAtMs: imported.importedAtMs, summary };
	return {
		kind: "refused",
		reason: `this Tollgate already imported a Session Pro backend on ${new Date(imported.importedAtMs).toISOString()}, and ${source.description} no longer matches it; an import is not a merge`,
	};
}

export async function importLegacyBackend(
	source: LegacyBackendSource,
	target: LegacyImportTarget,
	options: { readonly dryRun: boolean; readonly nowMs: number },
): Promise<LegacyImportOutcome> {
	const version = await source.schemaVersion();
	if (version !== LEGACY_SCHEMA_VERSION)
		return {
			kind: "refused",
			reason:
				version < LEGACY_SCHEMA_VERSION
					? `${source.description} is at schema version ${version}; start the Python backend's newest release on it once (it migrates to ${LEGACY_SCHEMA_VERSION}), stop it, then import`
					: `${source.description} is at schema version ${version}, newer than the ${LEGACY_SCHEMA_VERSION} this import reads`,
		};
	const runtime = await source.runtime();
	checkRuntime(runtime);
	const before = await target.state();
	if (before.imported !== null) return sameAsBefore(source, runtime, before.imported);
	const refusal = refusalForTarget(before);
	if (refusal !== null) return { kind: "refused", reason: refusal };
	if (options.dryRun)
		return { kind: "dry_run", summary: summaryOf(await readAll(source, runtime)) };
	return target.write(async (writer) => {
		// Another import, or a first payment, may have landed since the first look.
		const now = await writer.state();
		const raced =
			now.imported !== null ? "another import finished meanwhile" : refusalForTarget(now);
		if (raced !== null) return { kind: "refused", reason: raced };
		return copy(source, runtime, writer, options.nowMs);
	});
}

/** Each table is read just before it is written, inside the target's transaction. */
async function copy(
	source: LegacyBackendSource,
	runtime: LegacyRuntime,
	writer: LegacyImportWriter,
	nowMs: number,
): Promise<LegacyImportOutcome> {
	const users = await source.users();
	const payments = await source.payments();
	const revocations = await source.revocations();
	const revocationCreation = new Map(revocations.map((row) => [row.genIndex, row.creationMs]));
	await writer.insertUsers(
		users.map((user) => {
			const revokedAt = revocationCreation.get(user.genIndex);
			return {
				masterPkey: user.masterPkey,
				generationId: user.genIndex,
				generationToken: randomBytes(TAG_BYTES),
				generationIssuedAtMs: nowMs,
				generationRevokedAtMs: revokedAt === undefined ? null : revokedAt > 0 ? revokedAt : nowMs,
				expiryAtMs: user.autoRenewing ? user.expiryMs - user.gracePeriodMs : user.expiryMs,
				gracePeriodMs: user.gracePeriodMs === 0 ? null : user.gracePeriodMs,
				autoRenewing: user.autoRenewing,
				proofExpiryOffsetSeconds: Number(randomBytes(4).readUInt32BE() % 86_400),
			};
		}),
	);
	await writer.insertPayments(payments.map(importedPayment));
	await writer.insertLegacyRevocations(
		revocations.map((row) => ({
			genIndex: row.genIndex,
			createdAtMs: row.creationMs,
			listedUntilMs: listedUntil(row, nowMs),
		})),
	);
	const apple = await source.appleNotifications();
	await writer.insertAppleNotifications(
		apple.map((row) => ({
			uuid: row.uuid,
			expiresAtMs: row.expiryMs + APPLE_RESEND_WINDOW_SHORTFALL_MS,
		})),
	);
	const google = await source.googleNotifications();
	await writer.insertGoogleNotifications(
		google.map((row) => ({
			messageId: row.messageId,
			eventAtMs: row.expiryMs - GOOGLE_NOTIFICATION_EXPIRY_AFTER_EVENT_MS,
		})),
	);
	const userErrors = await source.userErrors();
	const snapshot = { runtime, users, payments, revocations, apple, google, userErrors };
	await writer.enqueueGoogleReconciles(
		[...new Set([...unhandledTokens(snapshot).tokens, ...erroredGoogleTokens(userErrors)])],
		nowMs,
	);
	const highestUsed = [...users, ...revocations].reduce(
		(highest, row) => Math.max(highest, row.genIndex),
		-1,
	);
	await writer.reserveGenerationIdsBelow(Math.max(runtime.genIndex, highestUsed + 1));
	const summary = summaryOf(snapshot);
	await writer.finish({
		backendSeed: runtime.backendKey,
		genIndexSalt: runtime.genIndexSalt,
		revocationTicket: runtime.revocationTicket,
		appleCheckpointMs: runtime.appleCheckpointMs > 0 ? runtime.appleCheckpointMs : null,
		importedAtMs: nowMs,
		summary: JSON.stringify(summary),
	});
	return { kind: "imported", summary };
}
