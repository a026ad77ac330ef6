/**
 * App Store Server Notifications V2 into Session Pro: notifications signed by a local stand-in for
 * Apple's chain (test/support/apple-fixture.ts, made with openssl) and checked by the real
 * @apple/app-store-server-library verifier; the account's side seen through the client protocol, on
 * SQLite and PostgreSQL.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { appAccountTokenFor } from "../../src/modules/entitlements/entitlement-service.ts";
import { type AppleFixture, createAppleFixture } from "../support/apple-fixture.ts";
import { appBackends, buildTestAppOn, type TestApp } from "../support/build-test-app.ts";
import { type FakeAppStoreApi, startFakeAppStoreApi } from "../support/fake-app-store-api.ts";
import { postJsonThroughOnion, serverOnionKey } from "../support/onion-client.ts";
import {
	generateProofRequest,
	type KeyPair,
	paymentDetailsRequest,
	proStatusRequest,
	randomKeyPair,
} from "../support/pro-client.ts";
import {
	legacyAddPaymentRequest,
	legacyGenerateProofRequest,
	legacyProDetailsRequest,
	legacyProofSignatureValid,
	legacySetRefundRequest,
} from "../support/pro-legacy-client.ts";

const BUNDLE_ID = "com.example.session";
const MONTH_PRODUCT = "com.getsession.org.pro_sub_1_month";
const DAY_MS = 86_400_000;

let apple: AppleFixture;
let appStoreApi: FakeAppStoreApi;
let directory: string;
beforeAll(async () => {
	apple = createAppleFixture();
	directory = await mkdtemp(join(tmpdir(), "tollgate-app-store-"));
	appStoreApi = await startFakeAppStoreApi({ directory, bundleId: BUNDLE_ID });
});
afterAll(async () => {
	apple.dispose();
	await appStoreApi.close();
	await rm(directory, { recursive: true, force: true });
});

for (const backend of appBackends()) {
	describe.skipIf(backend.skip)(`App Store notifications (${backend.name})`, () => {
		let testApp: TestApp;

		beforeEach(async () => {
			testApp = await buildTestAppOn(backend, {
				entitlements: {
					enabled: true,
					apple_bundle_id: BUNDLE_ID,
					apple_environment: "Sandbox",
					apple_root_certificates: [apple.rootPath],
					apple_online_checks: false,
					apple_api_key_file: appStoreApi.keyFile,
					apple_api_key_id: appStoreApi.keyId,
					apple_api_issuer_id: appStoreApi.issuerId,
					apple_api_url: appStoreApi.url,
				},
			});
		});
		afterEach(async () => {
			await testApp.close();
		});

		const nowMs = () => testApp.clock.nowMs();
		const now = () => Math.floor(nowMs() / 1_000);

		function transaction(
			master: KeyPair,
			fields: {
				id: string;
				original: string;
				purchasedAtMs: number;
				product?: string;
				extra?: object;
			},
		) {
			return apple.sign({
				transactionId: fields.id,
				originalTransactionId: fields.original,
				webOrderLineItemId: `${fields.id}-line`,
				bundleId: BUNDLE_ID,
				productId: fields.product ?? MONTH_PRODUCT,
				purchaseDate: fields.purchasedAtMs,
				expiresDate: fields.purchasedAtMs + 30 * DAY_MS,
				type: "Auto-Renewable Subscription",
				transactionReason: "PURCHASE",
				appAccountToken: appAccountTokenFor(master.publicKey).toUpperCase(),
				environment: "Sandbox",
				// The signing time is real: it is what the certificates' validity is checked against.
				signedDate: Date.now(),
				...fields.extra,
			});
		}

		function notification(
			type: string,
			data: { signedTransactionInfo?: string; signedRenewalInfo?: string },
			options: { subtype?: string; uuid?: string; forged?: boolean } = {},
		) {
			const payload = {
				notificationType: type,
				...(options.subtype === undefined ? {} : { subtype: options.subtype }),
				notificationUUID: options.uuid ?? randomUUID(),
				version: "2.0",
				signedDate: Date.now(),
				data: { bundleId: BUNDLE_ID, environment: "Sandbox", ...data },
			};
			return options.forged ? apple.signWithUntrustedChain(payload) : apple.sign(payload);
		}

		async function notify(signedPayload: string) {
			return testApp.app.inject({
				method: "POST",
				url: "/apple_notifications_v2",
				headers: { "content-type": "application/json" },
				payload: { signedPayload },
			});
		}

		async function call(path: string, body: unknown) {
			const response = await testApp.app.inject({
				method: "POST",
				url: path,
				payload: body as object,
			});
			return response.json() as Record<string, any>;
		}

		const status = (master: KeyPair) =>
			call("/get_pro_status", proStatusRequest(master, now())).then((reply) => reply.result);
		const paymentCount = async (master: KeyPair) =>
			(await call("/get_payment_details", paymentDetailsRequest(master, now(), 10, ""))).result
				.payments_total as number;

		it("notifications Apple failed to deliver are replayed from its history; one that cannot be applied holds nothing back", async () => {
			const first = randomKeyPair();
			const second = randomKeyPair();
			const subscribedFor = (master: KeyPair, id: string, product?: string) =>
				notification("SUBSCRIBED", {
					signedTransactionInfo: transaction(master, {
						id,
						original: id,
						purchasedAtMs: nowMs(),
						...(product === undefined ? {} : { product }),
					}),
				});
			appStoreApi.failedNotifications.splice(
				0,
				appStoreApi.failedNotifications.length,
				subscribedFor(first, `${backend.name}-h1`),
				subscribedFor(randomKeyPair(), `${backend.name}-h2`, "com.example.unknown_product"),
				subscribedFor(second, `${backend.name}-h3`),
			);
			const requestsBefore = appStoreApi.requests.length;
			const catchUp = async () => {
				const job = testApp.jobs.find(
					(candidate) => candidate.name === "entitlements.apple-catch-up",
				);
				if (job === undefined) throw new Error("the App Store catch-up job is not registered");
				await job.run({ signal: new AbortController().signal, nowMs: nowMs() });
			};

			await catchUp();
			expect(await status(first)).toMatchObject({ user_status: "active" });
			expect(await status(second)).toMatchObject({ user_status: "active" });
			const firstRun = appStoreApi.requests.slice(requestsBefore);
			expect(firstRun).toHaveLength(2);
			expect(firstRun[0]).toEqual({
				startDate: nowMs() - 30 * DAY_MS,
				endDate: nowMs(),
				onlyFailures: true,
			});
			expect(
				testApp
					.logs()
					.some((line) => line.msg === "App Store notification from history not applied"),
			).toBe(true);

			const previousRunAt = nowMs();
			testApp.clock.advanceMs(5 * 3_600_000);
			await catchUp();
			const secondRun = appStoreApi.requests.slice(requestsBefore + 2);
			expect(secondRun[0]).toMatchObject({
				startDate: previousRunAt - 3_600_000,
				endDate: nowMs(),
			});
			expect(await paymentCount(first)).toBe(1);
			appStoreApi.failedNotifications.length = 0;
		});

		it("a purchase binds to the account whose master key made its appAccountToken; a resend changes nothing", async () => {
			const master = randomKeyPair();
			const subscribed = notification("SUBSCRIBED", {
				signedTransactionInfo: transaction(master, {
					id: "1001",
					original: "1001",
					purchasedAtMs: nowMs(),
				}),
			});
			const first = await notify(subscribed);
			expect(first.statusCode).toBe(200);
			expect(first.body).toBe("");
			expect((await notify(subscribed)).statusCode).toBe(200);

			expect(await status(master)).toMatchObject({
				user_status: "active",
				auto_renewing: true,
				expiry_ts: now() + 30 * 86_400,
				latest_payment: { payment_provider: "app_store", plan: "1m", payment_id: "1001" },
			});
			expect(await paymentCount(master)).toBe(1);
			const proof = await call(
				"/generate_pro_proof",
				generateProofRequest(master, randomKeyPair(), now()),
			);
			expect(proof.status).toBe("ok");
		});

		it("a renewal extends the account at once; auto-renew off, grace, refund and its reversal follow", async () => {
			const master = randomKeyPair();
			const start = nowMs();
			await notify(
				notification("SUBSCRIBED", {
					signedTransactionInfo: transaction(master, {
						id: "2001",
						original: "2001",
						purchasedAtMs: start,
					}),
				}),
			);
			expect((await status(master)).expiry_ts).toBe(now() + 30 * 86_400);
			const firstProof = await call(
				"/generate_pro_proof",
				generateProofRequest(master, randomKeyPair(), now()),
			);

			testApp.clock.advanceMs(30 * DAY_MS);
			const renewal = transaction(master, { id: "2002", original: "2001", purchasedAtMs: nowMs() });
			expect(
				(await notify(notification("DID_RENEW", { signedTransactionInfo: renewal }))).statusCode,
			).toBe(200);
			expect(await status(master)).toMatchObject({
				user_status: "active",
				expiry_ts: now() + 30 * 86_400,
				latest_payment: { payment_id: "2002" },
			});

			await notify(
				notification(
					"DID_CHANGE_RENEWAL_STATUS",
					{ signedTransactionInfo: renewal },
					{ subtype: "AUTO_RENEW_DISABLED" },
				),
			);
			expect((await status(master)).auto_renewing).toBe(false);
			await notify(
				notification(
					"DID_CHANGE_RENEWAL_STATUS",
					{ signedTransactionInfo: renewal },
					{ subtype: "AUTO_RENEW_ENABLED" },
				),
			);
			expect((await status(master)).auto_renewing).toBe(true);

			const graceEnds = nowMs() + 30 * DAY_MS + 16 * DAY_MS;
			const renewalInfo = apple.sign({
				originalTransactionId: "2001",
				productId: MONTH_PRODUCT,
				autoRenewStatus: 1,
				gracePeriodExpiresDate: graceEnds,
				environment: "Sandbox",
				signedDate: Date.now(),
			});
			await notify(
				notification(
					"DID_FAIL_TO_RENEW",
					{ signedTransactionInfo: renewal, signedRenewalInfo: renewalInfo },
					{ subtype: "GRACE_PERIOD" },
				),
			);
			// Store grace (16 days) plus the renewal latency allowance (an hour).
			expect((await status(master)).grace_period_duration).toBe(16 * 86_400 + 3_600);

			expect((await call("/get_pro_revocations", { ticket: 0 })).result.ticket).toBe(0);
			const refunded = transaction(master, {
				id: "2002",
				original: "2001",
				purchasedAtMs: nowMs(),
				extra: { revocationDate: nowMs(), revocationReason: 1 },
			});
			await notify(notification("REFUND", { signedTransactionInfo: refunded }));
			expect(await status(master)).toMatchObject({
				user_status: "expired",
				auto_renewing: false,
				latest_payment: { status: "revoked" },
			});
			const revocations = (await call("/get_pro_revocations", { ticket: 0 })).result;
			expect(revocations.ticket).toBe(1);
			expect(
				revocations.items.map((item: { revocation_tag: string }) => item.revocation_tag),
			).toContain(firstProof.result.revocation_tag);
			expect(
				await call("/generate_pro_proof", generateProofRequest(master, randomKeyPair(), now())),
			).toMatchObject({ status: "fail", error_code: "revoked" });

			await notify(notification("REFUND_DECLINED", { signedTransactionInfo: refunded }));
			await notify(notification("REFUND_REVERSED", { signedTransactionInfo: renewal }));
			expect(await status(master)).toMatchObject({
				user_status: "active",
				latest_payment: { payment_id: "2002", status: "redeemed" },
			});
			const reinstated = await call(
				"/generate_pro_proof",
				generateProofRequest(master, randomKeyPair(), now()),
			);
			expect(reinstated.status).toBe("ok");
			expect(reinstated.result.revocation_tag).not.toBe(firstProof.result.revocation_tag);
		});

		it("refuses a payload signed by another chain (401) and writes nothing", async () => {
			const master = randomKeyPair();
			const forged = notification(
				"SUBSCRIBED",
				{
					signedTransactionInfo: transaction(master, {
						id: "3001",
						original: "3001",
						purchasedAtMs: nowMs(),
					}),
				},
				{ forged: true },
			);
			const response = await notify(forged);
			expect(response.statusCode).toBe(401);
			expect(response.json().error).toBe("unauthorized");
			expect((await status(master)).user_status).toBe("never");
		});

		it("answers 500 (so Apple resends) for what it cannot apply, and keeps nothing of it", async () => {
			const master = randomKeyPair();
			const uuid = randomUUID();
			const unknownProduct = transaction(master, {
				id: "4001",
				original: "4001",
				purchasedAtMs: nowMs(),
				product: "com.example.unknown",
			});
			const response = await notify(
				notification("SUBSCRIBED", { signedTransactionInfo: unknownProduct }, { uuid }),
			);
			expect(response.statusCode).toBe(500);
			expect((await status(master)).user_status).toBe("never");
			// The same notification id is applied once it can be.
			const fixed = transaction(master, { id: "4001", original: "4001", purchasedAtMs: nowMs() });
			expect(
				(await notify(notification("SUBSCRIBED", { signedTransactionInfo: fixed }, { uuid })))
					.statusCode,
			).toBe(200);
			expect((await status(master)).user_status).toBe("active");

			const refundOfNothing = transaction(master, {
				id: "9999",
				original: "9999",
				purchasedAtMs: nowMs(),
				extra: { revocationDate: nowMs() },
			});
			expect(
				(await notify(notification("REFUND", { signedTransactionInfo: refundOfNothing })))
					.statusCode,
			).toBe(500);
			expect((await notify(notification("RENEWAL_EXTENDED", {}))).statusCode).toBe(500);
			expect((await notify("not a jws")).statusCode).toBe(401);
			const missing = await testApp.app.inject({
				method: "POST",
				url: "/apple_notifications_v2",
				payload: { other: 1 },
			});
			expect(missing.statusCode).toBe(400);
			expect(missing.json().error_description).toContain("signedPayload");
		});

		// Upstream test.py test_platform_apple (specs/session-pro.md §13.6), seen by a legacy v0 iOS client:
		// it sets no appAccountToken, claims with /add_pro_payment and reads /get_pro_details.
		const legacyPurchase = (id: string, original: string, product = MONTH_PRODUCT) =>
			transaction(randomKeyPair(), {
				id,
				original,
				purchasedAtMs: nowMs(),
				product,
				extra: { appAccountToken: undefined },
			});
		const legacyClaim = (master: KeyPair, appleTxId: string) =>
			call(
				"/add_pro_payment",
				legacyAddPaymentRequest(master, randomKeyPair(), { provider: 2, apple_tx_id: appleTxId }),
			);
		const legacyProofStatus = async (master: KeyPair) =>
			(
				await call(
					"/generate_pro_proof",
					legacyGenerateProofRequest(master, randomKeyPair(), nowMs()),
				)
			).status as number;
		const legacyDetails = (master: KeyPair) =>
			call("/get_pro_details", legacyProDetailsRequest(master, nowMs(), 10)).then(
				(reply) => reply.result,
			);

		it("legacy v0 (test.py platform_apple): a renewal claimed without appAccountToken gives a valid proof; refund request, decline and refund follow", async () => {
			const master = randomKeyPair();
			const original = `${Date.now()}1`;
			await notify(
				notification("SUBSCRIBED", { signedTransactionInfo: legacyPurchase(original, original) }),
			);
			testApp.clock.advanceMs(30 * DAY_MS);
			const renewalId = `${original}2`;
			const renewal = legacyPurchase(renewalId, original);
			expect(
				(await notify(notification("DID_RENEW", { signedTransactionInfo: renewal }))).statusCode,
			).toBe(200);
			const claimed = await legacyClaim(master, renewalId);
			expect(claimed.status).toBe(0);
			const signingKey = (await call("/status", {})).result.signing_pubkey as string;
			expect(legacyProofSignatureValid(signingKey, claimed.result)).toBe(true);
			expect((await legacyClaim(randomKeyPair(), renewalId)).status).toBe(101);

			const requestedAt = nowMs() - 1_000;
			const requested = await call(
				"/set_payment_refund_requested",
				legacySetRefundRequest(master, nowMs(), requestedAt, {
					provider: 2,
					apple_tx_id: renewalId,
				}),
			);
			expect(requested).toEqual({ status: 0, result: { version: 0, updated: true } });
			expect((await legacyDetails(master)).refund_requested_unix_ts_ms).toBe(requestedAt);
			// Apple declines: the request is cleared (upstream crashed here, §12).
			expect(
				(await notify(notification("REFUND_DECLINED", { signedTransactionInfo: renewal })))
					.statusCode,
			).toBe(200);
			expect((await legacyDetails(master)).refund_requested_unix_ts_ms).toBe(0);
			// CONSUMPTION_REQUEST changes nothing; the client sees it through an onion request too.
			await notify(notification("CONSUMPTION_REQUEST", { signedTransactionInfo: renewal }));
			const throughOnion = await postJsonThroughOnion(
				testApp.app,
				await serverOnionKey(Buffer.from(signingKey, "hex")),
				"/get_pro_details",
				legacyProDetailsRequest(master, nowMs(), 1),
			);
			expect(JSON.parse(throughOnion.body.toString()).result).toMatchObject({
				status: 1,
				refund_requested_unix_ts_ms: 0,
				items: [expect.objectContaining({ apple_tx_id: renewalId, status: 2 })],
			});

			const refunded = transaction(randomKeyPair(), {
				id: renewalId,
				original,
				purchasedAtMs: nowMs(),
				extra: { appAccountToken: undefined, revocationDate: nowMs(), revocationReason: 1 },
			});
			await notify(notification("REFUND", { signedTransactionInfo: refunded }));
			const revocations = (await call("/get_pro_revocations", { version: 0, ticket: 0 })).result;
			expect(
				revocations.items.map((item: { gen_index_hash: string }) => item.gen_index_hash),
			).toContain(claimed.result.gen_index_hash);
			expect(await legacyDetails(master)).toMatchObject({ status: 2, auto_renewing: false });
			expect(await legacyProofStatus(master)).toBe(1);
		});

		it("legacy v0 (test.py platform_apple): an upgrade revokes the old plan and the new one counts; a downgrade changes nothing", async () => {
			const master = randomKeyPair();
			const original = `${Date.now()}5`;
			await notify(
				notification("SUBSCRIBED", {
					signedTransactionInfo: legacyPurchase(
						original,
						original,
						"com.getsession.org.pro_sub_3_months",
					),
				}),
			);
			const claimed = await legacyClaim(master, original);
			expect(claimed.status).toBe(0);
			testApp.clock.advanceMs(DAY_MS);
			const upgradeId = `${original}6`;
			const upgrade = legacyPurchase(upgradeId, original, "com.getsession.org.pro_sub_12_months");
			await notify(
				notification(
					"DID_CHANGE_RENEWAL_PREF",
					{ signedTransactionInfo: upgrade },
					{ subtype: "UPGRADE" },
				),
			);
			const afterUpgrade = await legacyDetails(master);
			expect(
				afterUpgrade.items.map((item: { apple_tx_id: string; status: number; plan: number }) => [
					item.apple_tx_id,
					item.status,
					item.plan,
				]),
			).toEqual([
				[upgradeId, 2, 3],
				[original, 4, 2],
			]);
			expect(afterUpgrade.status).toBe(1);
			await notify(
				notification(
					"DID_CHANGE_RENEWAL_PREF",
					{ signedTransactionInfo: upgrade },
					{ subtype: "DOWNGRADE" },
				),
			);
			expect(await legacyDetails(master)).toEqual(afterUpgrade);
		});
	});
}
