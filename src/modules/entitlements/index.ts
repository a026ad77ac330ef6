/**
 * Session Pro entitlements (specs/session-pro.md; upstream session-pro-backend 0.3.0): store payments
 * become Ed25519-signed proofs for a client's rotating keys, revocations are served by ticket, and revoked
 * generations are pruned once every proof they revoke has expired. This file is the module's descriptor
 * and stays light; module.ts holds the rest.
 */
import { defineModule } from "../contract.ts";
import { entitlementsConfigSection } from "./config.ts";

export type { EntitlementsConfig } from "./config.ts";
export type { PaymentProvider, ProPlan } from "./entitlement.ts";

const commands = () => import("./cli.ts");

export const entitlementsModule = defineModule({
	name: "entitlements",
	configSection: entitlementsConfigSection,
	isEnabled: (section) => section.enabled,
	migrationsDir: "src/modules/entitlements/migrations",
	commands: [
		{
			name: "entitlements grant",
			summary: "Give an account Session Pro with a manual payment (e.g. for a support case).",
			details: [
				"",
				"Records a Session Foundation ('stf') payment, bound to the account at once, not auto-renewing,",
				"lasting 30, 90 or 365 days. Prints the payment id and the account's new expiry.",
			],
			arguments: ["master_pkey"],
			options: {
				plan: { value: "1m|3m|1y", description: "plan to grant (default 1m; 12m means 1y)" },
			},
			load: async () => (await commands()).grant,
		},
		{
			name: "entitlements revoke",
			summary: "End an account's Session Pro now: revoke its payments and its current proofs.",
			details: [
				"",
				"As a refund would: the proofs' revocation tag goes on the revocation list clients poll.",
				"Exits 1 when the key has no account.",
			],
			arguments: ["master_pkey"],
			load: async () => (await commands()).revoke,
		},
		{
			name: "entitlements import",
			summary: "Move a Python Session Pro backend's database into Tollgate (one transaction).",
			details: [
				"",
				"<source> is the backend's SQLite file, its db_url (sqlite:///backend.db, postgresql://…) or a",
				"postgres:// URL; it is only read. Brings its signing key, generation indexes and salt, users,",
				"payments, revocations and store notification history into an empty Pro ledger. A second run",
				"of the same source changes nothing and says so. See docs/migrate-from-session-pro-backend.md.",
			],
			arguments: ["source"],
			options: {
				"dry-run": {
					description: "read the source and print what would be imported; write nothing",
				},
			},
			load: async () => (await commands()).importBackend,
		},
		{
			name: "entitlements show",
			summary: "Print an account's Session Pro status and payments as JSON.",
			details: ["", "Exits 1 when the key has no account."],
			arguments: ["master_pkey"],
			load: async () => (await commands()).show,
		},
	],
	load: async () => (await import("./module.ts")).implementation,
});
