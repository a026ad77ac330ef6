/**
 * The identity module started: its sealed secrets opened, the account service, the account API under the
 * issuer's path, and the leased sweep of expired provider models.
 */

import type { Logger } from "pino";
import type { FoundationConfig } from "#config";
import type { Clock } from "#lib/clock";
import type { Storage } from "../../storage/index.ts";
import type { ModuleImplementation } from "../contract.ts";
import { AccountService } from "./account-service.ts";
import type { IdentityConfig } from "./config.ts";
import { AttemptLimiter } from "./rate-limit.ts";
import { identityRoutes } from "./routes.ts";
import { resolveSecretsKey } from "./secrets-key.ts";
import { SqlAccountStore } from "./storage/sql-account-store.ts";
import { sweepExpiredOidcModels } from "./storage/sql-oidc-adapter.ts";

const HOUR_MS = 3_600_000;
const SWEEP_INTERVAL_MS = 15 * 60_000;

/** `identity.issuer`, else the address the service listens on. */
export function issuerOf(section: IdentityConfig, config: FoundationConfig): URL {
	return new URL(section.issuer ?? `http://${config.http.host}:${config.http.port}`);
}

export async function openAccounts(options: {
	readonly section: IdentityConfig;
	readonly config: FoundationConfig;
	readonly storage: Pick<Storage, "sql" | "kv">;
	readonly clock: Clock;
	readonly logger: Logger;
}): Promise<AccountService> {
	const { section, config, storage, clock, logger } = options;
	return AccountService.open({
		store: new SqlAccountStore(storage.sql.db),
		kv: storage.kv,
		secretsKey: await resolveSecretsKey({
			configured: section.secrets_key,
			isDev: config.dev,
			dataDir: config.data_dir,
			logger,
		}),
		clock,
		setPasswordLinkMs: section.set_password_link_hours * HOUR_MS,
	});
}

export const implementation: ModuleImplementation<IdentityConfig> = {
	async register({ section, config, app, storage, clock, logger, registerJob }) {
		const accounts = await openAccounts({ section, config, storage, clock, logger });
		registerJob({
			name: "identity.sweep-oidc-models",
			intervalMs: SWEEP_INTERVAL_MS,
			run: async ({ nowMs }) => {
				await sweepExpiredOidcModels(storage.sql.db, nowMs);
			},
		});
		const prefix = issuerOf(section, config).pathname.replace(/\/+$/, "");
		const windowMs = section.attempt_window_seconds * 1_000;
		await app.register(identityRoutes, {
			accounts,
			prefix,
			limits: {
				limiter: new AttemptLimiter(storage.kv),
				perAccount: { attempts: section.attempts_per_account, windowMs },
				perAddress: { attempts: section.attempts_per_address, windowMs },
			},
		});
		return {};
	},
};
