/**
 * Session Pro entitlements (specs/session-pro.md; upstream session-pro-backend 0.3.0): store payments
 * become Ed25519-signed proofs for a client's rotating keys, revocations are served by ticket, and
 * revoked generations are pruned once every proof they revoke has expired.
 */
import { readFileSync } from "node:fs";
import { Environment } from "@apple/app-store-server-library";
import type { FastifyInstance } from "fastify";
import type { Config } from "#config";
import type { Clock } from "#lib/clock";
import type { Ed25519KeyPair } from "#lib/ed25519";
import type { JobDefinition } from "../../jobs/job-runner.ts";
import { AppleNotifications } from "./apple-notifications.ts";
import { REVOCATION_RETAIN_FOR_MS, SECOND_MS } from "./entitlement.ts";
import { EntitlementService } from "./entitlement-service.ts";
import type { EntitlementLedger } from "./ledger.ts";
import { entitlementsRoutes } from "./routes.ts";

export {
	type PaymentProvider,
	type ProPlan,
	proofExpiryMs,
} from "./entitlement.ts";
export {
	appAccountTokenFor,
	EntitlementService,
} from "./entitlement-service.ts";
export type {
	EntitlementLedger,
	LedgerTransaction,
	NewPayment,
	ProGeneration,
	ProPayment,
	ProUser,
	UserEntitlementUpdate,
} from "./ledger.ts";
export { proofMessage, signedMessage } from "./protocol.ts";

const PRUNE_INTERVAL_MS = 60 * 60_000;

export function createEntitlementService(
	config: Config["entitlements"],
	ledger: EntitlementLedger,
	signingKey: Ed25519KeyPair,
	clock: Clock,
): EntitlementService {
	return new EntitlementService(ledger, signingKey, clock, {
		renewalAllowanceMs: config.renewal_latency_allowance_seconds * SECOND_MS,
	});
}

export interface EntitlementsModuleOptions {
	readonly config: Config["entitlements"];
	readonly ledger: EntitlementLedger;
	/** The service key: it signs proofs, and clients pin its public key. */
	readonly signingKey: Ed25519KeyPair;
	readonly clock: Clock;
	/** Dev mode: /dev/add_payment and /dev/revoke, which mint and revoke with no store involved. */
	readonly devEndpoints: boolean;
	readonly registerJob: (job: JobDefinition) => void;
}

/**
 * Registers /status, /generate_pro_proof, /get_pro_revocations, /get_pro_status, /get_payment_details,
 * /apple_notifications_v2 when an App Store app is configured, /dev/* in dev mode, and the leased job
 * that prunes old revocations and notification ids.
 * @throws nothing at registration; routes answer HTTP 200 with the protocol's envelope.
 */
export async function registerEntitlements(
	app: FastifyInstance,
	options: EntitlementsModuleOptions,
): Promise<void> {
	const { ledger, clock, config } = options;
	const service = createEntitlementService(config, ledger, options.signingKey, clock);
	options.registerJob({
		name: "entitlements.prune-revocations",
		intervalMs: PRUNE_INTERVAL_MS,
		run: async ({ nowMs }) => {
			await ledger.pruneRevokedGenerations(nowMs - REVOCATION_RETAIN_FOR_MS);
			await ledger.pruneAppleNotifications(nowMs);
		},
	});
	const apple =
		config.apple_bundle_id === undefined
			? undefined
			: new AppleNotifications(
					{
						bundleId: config.apple_bundle_id,
						environment:
							config.apple_environment === "Sandbox" ? Environment.SANDBOX : Environment.PRODUCTION,
						appAppleId: config.apple_app_apple_id,
						rootCertificates: config.apple_root_certificates.map((path) => readFileSync(path)),
						onlineChecks: config.apple_online_checks,
					},
					service,
					clock,
				);
	await app.register(entitlementsRoutes, { service, devEndpoints: options.devEndpoints, apple });
}
