/**
 * The entitlements module started (specs/session-pro.md; upstream session-pro-backend 0.3.0): the Session Pro
 * client calls (raw routes, with Fastify twins for onion requests and OpenAPI), App Store and Google Play
 * notifications when configured, dev routes in dev mode, and the leased pruning, catch-up and Play jobs.
 */
import { readFileSync } from "node:fs";
import { Environment } from "@apple/app-store-server-library";
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { Clock } from "#lib/clock";
import { type Ed25519KeyPair, ed25519FromSeed, x25519FromEd25519Seed } from "#lib/ed25519";
import type { RawRoutes } from "../../http/raw-routes.ts";
import type { JobDefinition } from "../../jobs/job-runner.ts";
import type { ModuleImplementation } from "../contract.ts";
import { AppleNotifications } from "./apple-notifications.ts";
import type { EntitlementsConfig } from "./config.ts";
import { REVOCATION_RETAIN_FOR_MS, SECOND_MS } from "./entitlement.ts";
import { EntitlementService } from "./entitlement-service.ts";
import { GOOGLE_NOTIFICATION_RETAIN_FOR_MS, GooglePlayNotifications } from "./google-play.ts";
import { pushTokenVerifier } from "./google-push.ts";
import type { EntitlementLedger } from "./ledger.ts";
import { LegacyEntitlementService } from "./legacy-service.ts";
import { entitlementsRoutes } from "./routes.ts";
import { SqlEntitlementLedger } from "./storage/sql-entitlement-ledger.ts";

const PRUNE_INTERVAL_MS = 60 * 60_000;

export function createEntitlementService(
	config: EntitlementsConfig,
	ledger: EntitlementLedger,
	signingKey: Ed25519KeyPair,
	clock: Clock,
): EntitlementService {
	return new EntitlementService(ledger, signingKey, clock, {
		renewalAllowanceMs: config.renewal_latency_allowance_seconds * SECOND_MS,
	});
}

interface EntitlementsModuleOptions {
	readonly config: EntitlementsConfig;
	readonly ledger: EntitlementLedger;
	/** It signs proofs, and clients pin its public key (proSigningKey). */
	readonly signingKey: Ed25519KeyPair;
	readonly clock: Clock;
	readonly logger: Logger;
	/** Dev mode: /dev/add_payment and /dev/revoke, which mint and revoke with no store involved. */
	readonly devEndpoints: boolean;
	readonly registerJob: (job: JobDefinition) => void;
	/** Where HTTP clients' signed calls are answered, ahead of Fastify. */
	readonly rawRoutes: RawRoutes;
}

/**
 * The key proofs are signed with: the Python backend's, once imported (its clients pin it), else the
 * service key.
 */
export async function proSigningKey(
	ledger: EntitlementLedger,
	serviceKey: Ed25519KeyPair,
): Promise<{ readonly key: Ed25519KeyPair; readonly importedSeed: Uint8Array | null }> {
	const importedSeed = await ledger.importedBackendSeed();
	return {
		key: importedSeed === null ? serviceKey : ed25519FromSeed(importedSeed),
		importedSeed,
	};
}

export const implementation: ModuleImplementation<EntitlementsConfig> = {
	async register(context) {
		const { section, config, app, rawRoutes, storage, keys, clock, logger, registerJob } = context;
		const ledger = new SqlEntitlementLedger(storage.sql);
		const signing = await proSigningKey(ledger, keys.ed25519);
		// Its clients reach it through onion requests encrypted to the imported key, as before the move.
		if (signing.importedSeed !== null)
			context.acceptOnionKey(x25519FromEd25519Seed(signing.importedSeed));
		await registerEntitlements(app, {
			config: section,
			ledger,
			signingKey: signing.key,
			clock,
			logger,
			devEndpoints: config.dev,
			registerJob,
			rawRoutes,
		});
		return {};
	},
};

/**
 * Registers /status, /generate_pro_proof, /get_pro_revocations, /get_pro_status, /get_payment_details,
 * /apple_notifications_v2 when an App Store app is configured, /dev/* in dev mode, and the leased job
 * that prunes old revocations and notification ids.
 */
async function registerEntitlements(
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
			await ledger.pruneImportedRevocations(nowMs);
			await ledger.pruneAppleNotifications(nowMs);
			await ledger.pruneGoogleNotifications(nowMs - GOOGLE_NOTIFICATION_RETAIN_FOR_MS);
		},
	});
	const google = await registerGooglePlay(app, options, service);
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
	if (apple !== undefined && config.apple_api_key_file !== undefined)
		registerAppleCatchUp(options, apple, config.apple_api_key_file);
	await app.register(entitlementsRoutes, {
		service,
		legacyService: new LegacyEntitlementService(service, ledger, options.signingKey, clock),
		protocols: new Set(config.protocols),
		rawRoutes: options.rawRoutes,
		devEndpoints: options.devEndpoints,
		apple,
		googlePush:
			google === undefined ||
			config.google_push_audience === undefined ||
			config.google_push_service_account === undefined
				? undefined
				: {
						notifications: google,
						verify: pushTokenVerifier({
							certsUrl: config.google_oidc_certs_url,
							audience: config.google_push_audience,
							serviceAccount: config.google_push_service_account,
						}),
					},
	});
}

const APPLE_API_URLS = {
	Production: "https://api.storekit.itunes.apple.com",
	Sandbox: "https://api.storekit-sandbox.itunes.apple.com",
};

/** The leased job that replays App Store notifications Apple could not deliver. */
function registerAppleCatchUp(
	options: EntitlementsModuleOptions,
	apple: AppleNotifications,
	keyFile: string,
): void {
	const { config, ledger, logger } = options;
	const api = {
		privateKey: readFileSync(keyFile, "utf8"),
		keyId: config.apple_api_key_id ?? "",
		issuerId: config.apple_api_issuer_id ?? "",
		baseUrl: config.apple_api_url ?? APPLE_API_URLS[config.apple_environment],
	};
	const catchUpLogger = logger.child({ module: "entitlements.app_store" });
	options.registerJob({
		name: "entitlements.apple-catch-up",
		intervalMs: config.apple_catch_up_interval_minutes * 60_000,
		run: async ({ nowMs }) => {
			const applied = await apple.catchUp(api, ledger, catchUpLogger, nowMs);
			if (applied > 0)
				catchUpLogger.info({ applied }, "App Store notifications replayed from history");
		},
	});
}

/**
 * Google Play, when its package is configured: one leased job pulls notifications (when a pull
 * subscription is set), reconciles the purchases they queued and acknowledges new ones to Google.
 */
async function registerGooglePlay(
	app: FastifyInstance,
	options: EntitlementsModuleOptions,
	service: EntitlementService,
): Promise<GooglePlayNotifications | undefined> {
	const { config, ledger, clock, logger } = options;
	if (config.google_package_name === undefined || config.google_service_account_file === undefined)
		return undefined;
	// Google's client libraries (gRPC stack included) load only where Google Play is configured.
	const { playDeveloperApi, pubSubPull, readServiceAccount } = await import("./google-clients.ts");
	const account = readServiceAccount(config.google_service_account_file);
	const packageName = config.google_package_name;
	const google = new GooglePlayNotifications(
		{ packageName },
		{
			service,
			ledger,
			clock,
			logger: logger.child({ module: "entitlements.google_play" }),
			api: playDeveloperApi({ account, packageName, rootUrl: config.google_play_api_url }),
		},
	);
	const pull =
		config.google_pubsub_subscription === undefined
			? undefined
			: pubSubPull({
					account,
					subscription: config.google_pubsub_subscription,
					endpoint: config.google_pubsub_url,
				});
	if (pull !== undefined) app.addHook("onClose", () => pull.close());
	options.registerJob({
		name: "entitlements.google-play",
		intervalMs: config.google_poll_interval_seconds * SECOND_MS,
		run: async ({ nowMs }) => {
			if (pull !== undefined) await google.pull(pull);
			await google.drain(nowMs);
			await google.acknowledgePurchases(nowMs);
		},
	});
	return google;
}
