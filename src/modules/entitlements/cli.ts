/** The entitlements module's operator commands (described in index.ts, loaded when one runs). */
import { systemClock } from "#lib/clock";
import { type CommandOptions, type ModuleCommandContext, usageFailure } from "../contract.ts";
import type { EntitlementsConfig } from "./config.ts";
import type { ProPlan } from "./entitlement.ts";
import type { EntitlementService } from "./entitlement-service.ts";
import {
	importLegacyBackend,
	type LegacyBackendSource,
	LegacyImportError,
	type LegacyImportSummary,
} from "./legacy-import.ts";
import { createEntitlementService, proSigningKey } from "./module.ts";
import { openLegacyBackendSource } from "./storage/legacy-backend-source.ts";
import { SqlEntitlementLedger } from "./storage/sql-entitlement-ledger.ts";
import { SqlLegacyImportTarget } from "./storage/sql-legacy-import.ts";

type Context = ModuleCommandContext<EntitlementsConfig>;

const PLANS: readonly ProPlan[] = ["1m", "3m", "1y"];

/** A master key from the command line: 64 hex characters, as clients and the wire show it; null if not. */
function masterKeyOf(text: string): Uint8Array | null {
	return /^[0-9a-fA-F]{64}$/.test(text) ? new Uint8Array(Buffer.from(text, "hex")) : null;
}

const badMasterKey = (text: string) => `<master_pkey> must be 64 hex characters, got '${text}'`;

/** The configured ledger and service key, as `serve` would use them. */
async function entitlements(context: Context): Promise<EntitlementService> {
	const storage = await context.storage();
	const keys = await context.keys();
	const ledger = new SqlEntitlementLedger(storage.sql);
	const signing = await proSigningKey(ledger, keys.ed25519);
	return createEntitlementService(context.section, ledger, signing.key, systemClock);
}

export async function grant(
	context: Context,
	[master = ""]: readonly string[],
	options: CommandOptions,
): Promise<number> {
	const masterPkey = masterKeyOf(master);
	if (masterPkey === null) return usageFailure(badMasterKey(master));
	const requested = String(options.plan ?? "1m").toLowerCase();
	const plan = PLANS.find((candidate) => candidate === (requested === "12m" ? "1y" : requested));
	if (plan === undefined) return usageFailure(`--plan must be 1m, 3m or 1y, got '${options.plan}'`);
	const service = await entitlements(context);
	const payment = await service.addPayment({ masterPkey, provider: "stf", plan, redeem: true });
	const expiry = new Date(payment.account_expiry_ts * 1_000).toISOString();
	process.stdout.write(
		`payment_id: ${payment.payment_id}\nplan: ${payment.plan}\naccount_expiry: ${expiry}\n`,
	);
	return 0;
}

export async function revoke(context: Context, [master = ""]: readonly string[]): Promise<number> {
	const masterPkey = masterKeyOf(master);
	if (masterPkey === null) return usageFailure(badMasterKey(master));
	const revoked = await (await entitlements(context)).revokeAccount(masterPkey);
	if (revoked === null) {
		process.stderr.write(`tollgate: no Session Pro account for ${master}\n`);
		return 1;
	}
	process.stdout.write(`revoked_payments: ${revoked}\n`);
	return 0;
}

export async function show(context: Context, [master = ""]: readonly string[]): Promise<number> {
	const masterPkey = masterKeyOf(master);
	if (masterPkey === null) return usageFailure(badMasterKey(master));
	const account = await (await entitlements(context)).describeAccount(masterPkey);
	if (account === null) {
		process.stderr.write(`tollgate: no Session Pro account for ${master}\n`);
		return 1;
	}
	process.stdout.write(`${JSON.stringify(account, null, 2)}\n`);
	return 0;
}

function describeSummary(summary: LegacyImportSummary): string {
	const { payments, google_notifications: google } = summary;
	return [
		`backend_pubkey: ${summary.backend_pubkey}`,
		`users: ${summary.users}`,
		`payments: ${payments.unredeemed + payments.redeemed + payments.expired + payments.revoked} (unredeemed ${payments.unredeemed}, redeemed ${payments.redeemed}, expired ${payments.expired}, revoked ${payments.revoked})`,
		`revocations: ${summary.revocations} (ticket ${summary.revocation_ticket})`,
		`next_gen_index: ${summary.next_gen_index}`,
		`apple_notifications: ${summary.apple_notifications}`,
		`google_notifications: ${google.handled} handled, ${google.queued_for_a_look} unhandled (their purchases queued for a fresh look at Google)`,
		`google_payments_with_errors: ${summary.google_tokens_with_errors_queued} (queued for a fresh look at Google)`,
		`app_store_payments_with_errors: ${summary.app_store_payments_with_errors}`,
	]
		.map((line) => `${line}\n`)
		.join("");
}

export async function importBackend(
	context: Context,
	[location = ""]: readonly string[],
	options: CommandOptions,
): Promise<number> {
	const storage = await context.storage();
	let source: LegacyBackendSource;
	try {
		source = await openLegacyBackendSource(location);
	} catch (error) {
		if (!(error instanceof LegacyImportError)) throw error;
		process.stderr.write(`tollgate: ${error.message}\n`);
		return 1;
	}
	try {
		const outcome = await importLegacyBackend(source, new SqlLegacyImportTarget(storage.sql), {
			dryRun: options["dry-run"] === true,
			nowMs: systemClock.nowMs(),
		});
		switch (outcome.kind) {
			case "refused":
				process.stderr.write(`tollgate: ${outcome.reason}\n`);
				return 1;
			case "already_imported":
				process.stdout.write(
					`already imported from this backend on ${new Date(outcome.importedAtMs).toISOString()}: nothing changed\n${describeSummary(outcome.summary)}`,
				);
				return 0;
			case "dry_run":
				process.stdout.write(
					`dry run: would import from ${source.description}; nothing written\n${describeSummary(outcome.summary)}`,
				);
				return 0;
			case "imported":
				process.stdout.write(
					`imported from ${source.description}\n${describeSummary(outcome.summary)}restart every tollgate instance: proofs are signed with the imported key from their next start\n`,
				);
				return 0;
		}
	} catch (error) {
		if (!(error instanceof LegacyImportError)) throw error;
		process.stderr.write(
			`tollgate: ${source.description}: ${error.message}; nothing was imported\n`,
		);
		return 1;
	} finally {
		await source.close();
	}
}
