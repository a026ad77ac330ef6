/** The entitlements module's operator commands (described in index.ts, loaded when one runs). */
import { systemClock } from "#lib/clock";
import type { CommandOptions, ModuleCommandContext } from "../contract.ts";
import type { EntitlementsConfig } from "./config.ts";
import type { ProPlan } from "./entitlement.ts";
import type { EntitlementService } from "./entitlement-service.ts";
import { createEntitlementService } from "./module.ts";
import { SqlEntitlementLedger } from "./storage/sql-entitlement-ledger.ts";

type Context = ModuleCommandContext<EntitlementsConfig>;

const PLANS: readonly ProPlan[] = ["1m", "3m", "1y"];

/** A master key from the command line: 64 hex characters, as clients and the wire show it; null if not. */
function masterKeyOf(text: string): Uint8Array | null {
	return /^[0-9a-fA-F]{64}$/.test(text) ? new Uint8Array(Buffer.from(text, "hex")) : null;
}

/** Usage problems are found before the database or key is touched, so the reason is the only line. */
function usageFailure(reason: string): number {
	process.stderr.write(`tollgate: ${reason}\n`);
	return 2;
}

const badMasterKey = (text: string) => `<master_pkey> must be 64 hex characters, got '${text}'`;

/** The configured ledger and service key, as `serve` would use them. */
async function entitlements(context: Context): Promise<EntitlementService> {
	const storage = await context.storage();
	const keys = await context.keys();
	const ledger = new SqlEntitlementLedger(storage.sql.db);
	return createEntitlementService(context.section, ledger, keys.ed25519, systemClock);
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
