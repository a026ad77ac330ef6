import type { Config } from "#config";
import { systemClock } from "#lib/clock";
import {
	createEntitlementService,
	type EntitlementService,
	type ProPlan,
} from "#modules/entitlements";
import { loadConfiguredServiceKeys } from "../../keys/service-keys.ts";
import { SqlEntitlementLedger } from "../../storage/kysely/entitlement-ledger.ts";
import type { Command } from "../command.ts";
import { createCliLogger } from "./cli-logger.ts";
import { withMigratedDatabase } from "./with-database.ts";

const PLANS: readonly ProPlan[] = ["1m", "3m", "1y"];

/** A master key from the command line: 64 hex characters, as clients and the wire show it; null if not. */
function masterKeyOf(text: string): Uint8Array | null {
	return /^[0-9a-fA-F]{64}$/.test(text) ? new Uint8Array(Buffer.from(text, "hex")) : null;
}

/** Usage problems are found before the database or key is touched, so the reason is the only line. */
function usageFailure(reason: string): Promise<number> {
	process.stderr.write(`tollgate: ${reason}\n`);
	return Promise.resolve(2);
}

const badMasterKey = (text: string) => `<master_pkey> must be 64 hex characters, got '${text}'`;

/** The configured database and service key, as `serve` would use them, for one command. */
function withEntitlements(
	config: Config,
	work: (service: EntitlementService) => Promise<number>,
): Promise<number> {
	return withMigratedDatabase(config, async (database) => {
		const keys = await loadConfiguredServiceKeys(
			config,
			database.db,
			systemClock,
			createCliLogger(config),
		);
		const ledger = new SqlEntitlementLedger(database.db);
		return work(createEntitlementService(config.entitlements, ledger, keys.ed25519, systemClock));
	});
}

export const entitlementsGrantCommand: Command = {
	name: "entitlements grant",
	summary: "Give an account Session Pro with a manual payment (e.g. for a support case).",
	details: [
		"",
		"Records a Session Foundation ('stf') payment, bound to the account at once, not auto-renewing,",
		"lasting 30, 90 or 365 days. Prints the payment id and the account's new expiry.",
	],
	arguments: ["master_pkey"],
	options: { plan: { value: "1m|3m|1y", description: "plan to grant (default 1m; 12m means 1y)" } },
	run: (config, [master = ""], options) => {
		const masterPkey = masterKeyOf(master);
		if (masterPkey === null) return usageFailure(badMasterKey(master));
		const requested = String(options.plan ?? "1m").toLowerCase();
		const plan = PLANS.find((candidate) => candidate === (requested === "12m" ? "1y" : requested));
		if (plan === undefined)
			return usageFailure(`--plan must be 1m, 3m or 1y, got '${options.plan}'`);
		return withEntitlements(config, async (service) => {
			const payment = await service.addPayment({ masterPkey, provider: "stf", plan, redeem: true });
			const expiry = new Date(payment.account_expiry_ts * 1_000).toISOString();
			process.stdout.write(
				`payment_id: ${payment.payment_id}\nplan: ${payment.plan}\naccount_expiry: ${expiry}\n`,
			);
			return 0;
		});
	},
};

export const entitlementsRevokeCommand: Command = {
	name: "entitlements revoke",
	summary: "End an account's Session Pro now: revoke its payments and its current proofs.",
	details: [
		"",
		"As a refund would: the proofs' revocation tag goes on the revocation list clients poll.",
		"Exits 1 when the key has no account.",
	],
	arguments: ["master_pkey"],
	run: (config, [master = ""]) => {
		const masterPkey = masterKeyOf(master);
		if (masterPkey === null) return usageFailure(badMasterKey(master));
		return withEntitlements(config, async (service) => {
			const revoked = await service.revokeAccount(masterPkey);
			if (revoked === null) {
				process.stderr.write(`tollgate: no Session Pro account for ${master}\n`);
				return 1;
			}
			process.stdout.write(`revoked_payments: ${revoked}\n`);
			return 0;
		});
	},
};

export const entitlementsShowCommand: Command = {
	name: "entitlements show",
	summary: "Print an account's Session Pro status and payments as JSON.",
	details: ["", "Exits 1 when the key has no account."],
	arguments: ["master_pkey"],
	run: (config, [master = ""]) => {
		const masterPkey = masterKeyOf(master);
		if (masterPkey === null) return usageFailure(badMasterKey(master));
		return withEntitlements(config, async (service) => {
			const account = await service.describeAccount(masterPkey);
			if (account === null) {
				process.stderr.write(`tollgate: no Session Pro account for ${master}\n`);
				return 1;
			}
			process.stdout.write(`${JSON.stringify(account, null, 2)}\n`);
			return 0;
		});
	},
};
