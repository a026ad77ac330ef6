/**
 * Google Play into Session Pro: real-time developer notifications pulled from (and pushed by) a loopback
 * Pub/Sub, subscriptions read and acknowledged through a loopback Play Developer API, all by Google's own
 * client libraries (test/support/fake-google.ts); the account's side seen through the client protocol,
 * on SQLite and PostgreSQL. Resource shapes follow upstream's recorded Play responses (tests/test_google.py).
 */
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { appBackends, buildTestAppOn, type TestApp } from "../support/build-test-app.ts";
import {
	type FakeGoogle,
	type SubscriptionState,
	startFakeGoogle,
} from "../support/fake-google.ts";
import { postJsonThroughOnion, serverOnionKey } from "../support/onion-client.ts";
import {
	generateProofRequest,
	type KeyPair,
	paymentDetailsRequest,
	proofSignatureValid,
	proStatusRequest,
	randomKeyPair,
} from "../support/pro-client.ts";
import {
	legacyAddPaymentRequest,
	legacyGenerateProofRequest,
	legacyProDetailsRequest,
	legacyProofSignatureValid,
} from "../support/pro-legacy-client.ts";

const DAY_MS = 86_400_000;
const PURCHASED = 4;
const CANCELED = 3;
const RESTARTED = 7;
const IN_GRACE_PERIOD = 6;
const RENEWED = 2;
const REVOKED = 12;
const ON_HOLD = 5;
const RECOVERED = 1;

let google: FakeGoogle;
let directory: string;
beforeAll(async () => {
	directory = await mkdtemp(join(tmpdir(), "tollgate-google-"));
	google = await startFakeGoogle({ directory });
});
afterAll(async () => {
	await google.close();
	await rm(directory, { recursive: true, force: true });
});

for (const backend of appBackends()) {
	describe.skipIf(backend.skip)(`Google Play notifications (${backend.name})`, () => {
		let testApp: TestApp;

		beforeEach(async () => {
			testApp = await buildTestAppOn(backend, {
				entitlements: {
					enabled: true,
					google_package_name: google.packageName,
					google_service_account_file: google.serviceAccountFile,
					google_pubsub_subscription: google.subscription,
					google_push_audience: `${google.url}/push`,
					google_push_service_account: google.pushServiceAccount,
					google_play_api_url: `${google.url}/`,
					google_pubsub_url: google.url,
					google_oidc_certs_url: `${google.url}/oauth2/v3/certs`,
				},
			});
		});
		afterEach(async () => {
			await testApp.close();
		});

		const nowMs = () => testApp.clock.nowMs();
		const now = () => Math.floor(nowMs() / 1_000);
		let tokenCounter = 0;
		const newToken = () =>
			`${backend.name.toLowerCase()}${++tokenCounter}.AO-J1Oy${Date.now().toString(36)}`;

		async function runGoogleJob() {
			const job = testApp.jobs.find((candidate) => candidate.name === "entitlements.google-play");
			if (job === undefined) throw new Error("the Google Play job is not registered");
			await job.run({ signal: new AbortController().signal, nowMs: nowMs() });
		}

		function rtdn(type: number, token: string, extra: object = {}) {
			return {
				version: "1.0",
				packageName: google.packageName,
				eventTimeMillis: String(nowMs()),
				subscriptionNotification: {
					version: "1.0",
					notificationType: type,
					purchaseToken: token,
					subscriptionId: "session_pro",
				},
				...extra,
			};
		}

		/** What the Android client sets as the obfuscated account id: hex(SHA-256(master key)). */
		const googleAccountId = (master: KeyPair) =>
			createHash("sha256").update(master.publicKey).digest("hex");

		function subscribed(master: KeyPair, changes: Partial<SubscriptionState> = {}) {
			return {
				state: "SUBSCRIPTION_STATE_ACTIVE" as const,
				accountId: googleAccountId(master),
				basePlanId: "session-pro-1-month",
				orderId: `GPA.3354-3745-${String(++tokenCounter).padStart(4, "0")}-25336`,
				expiryMs: nowMs() + 30 * DAY_MS,
				autoRenewEnabled: true,
				...changes,
			};
		}

		/** A purchase as Play reports it, pulled and reconciled. */
		async function buy(master: KeyPair) {
			const token = newToken();
			const state = subscribed(master);
			google.setSubscription(token, state);
			google.publish(rtdn(PURCHASED, token));
			await runGoogleJob();
			return { token, state };
		}

		/** The user cancels: auto-renew goes off, the paid term stays. */
		async function cancel(token: string, state: SubscriptionState) {
			google.setSubscription(token, {
				...state,
				state: "SUBSCRIPTION_STATE_CANCELED",
				autoRenewEnabled: false,
				acknowledged: true,
			});
			google.publish(rtdn(CANCELED, token));
			await runGoogleJob();
		}

		/** The user takes the cancellation back. */
		async function restart(token: string, state: SubscriptionState) {
			google.setSubscription(token, { ...state, acknowledged: true });
			google.publish(rtdn(RESTARTED, token));
			await runGoogleJob();
		}

		/** A refund: Play revokes the subscription and it ends now. */
		async function refund(token: string, state: SubscriptionState) {
			google.setSubscription(token, {
				...state,
				state: "SUBSCRIPTION_STATE_EXPIRED",
				autoRenewEnabled: false,
				acknowledged: true,
				expiryMs: nowMs() + 1_000,
			});
			google.publish(rtdn(REVOKED, token));
			await runGoogleJob();
		}

		/** A renewal that failed: Play extends expiryTime by the base plan's grace. */
		async function failRenewalIntoGrace(token: string, state: SubscriptionState, graceMs: number) {
			google.setSubscription(token, {
				...state,
				state: "SUBSCRIPTION_STATE_IN_GRACE_PERIOD",
				acknowledged: true,
				expiryMs: state.expiryMs + graceMs,
			});
			google.publish(rtdn(IN_GRACE_PERIOD, token));
			await runGoogleJob();
		}

		/** Google renews the subscription under the order's next id for 30 days; returns the new expiry. */
		async function renewIntoNextOrder(
			token: string,
			state: SubscriptionState,
			notificationType: number,
		): Promise<number> {
			const renewedExpiry = nowMs() + 30 * DAY_MS;
			google.setSubscription(token, {
				...state,
				orderId: `${state.orderId}..0`,
				acknowledged: true,
				expiryMs: renewedExpiry,
			});
			google.publish(rtdn(notificationType, token));
			await runGoogleJob();
			return renewedExpiry;
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
		const payments = (master: KeyPair) =>
			call("/get_payment_details", paymentDetailsRequest(master, now(), 10, "")).then(
				(reply) => reply.result,
			);
		const proof = (master: KeyPair) =>
			call("/generate_pro_proof", generateProofRequest(master, randomKeyPair(), now()));

		async function push(rtdnBody: object, options: Parameters<FakeGoogle["pushRequest"]>[1] = {}) {
			const { authorization, body } = await google.pushRequest(rtdnBody, options);
			return testApp.app.inject({
				method: "POST",
				url: "/google_notifications",
				headers: { authorization, "content-type": "application/json" },
				payload: body,
			});
		}

		it("binds a purchase named by hex(SHA-256(master key)), as upstream does, and one named by the key in hex, as Tollgate 0.2 did", async () => {
			for (const accountIdOf of [googleAccountId, (master: KeyPair) => master.hex]) {
				const master = randomKeyPair();
				const token = newToken();
				google.setSubscription(token, subscribed(master, { accountId: accountIdOf(master) }));
				google.publish(rtdn(PURCHASED, token));
				await runGoogleJob();
				expect((await status(master)).user_status).toBe("active");
				// Nobody else's key reaches it.
				expect((await status(randomKeyPair())).user_status).toBe("never");
			}
		});

		it("a pulled purchase becomes a proof for the account that set the obfuscated id, and is acknowledged to Google", async () => {
			const master = randomKeyPair();
			const token = newToken();
			const state = subscribed(master);
			google.setSubscription(token, state);
			google.publish(rtdn(PURCHASED, token));
			expect((await status(master)).user_status).toBe("never");

			await runGoogleJob();
			expect(google.unacknowledged()).toBe(0);
			expect(google.acknowledgements).toContainEqual({ token, productId: "session_pro" });

			const reply = await proof(master);
			expect(reply.status).toBe("ok");
			const signingKey = (await call("/status", {})).result.signing_pubkey as string;
			expect(proofSignatureValid(signingKey, reply.result)).toBe(true);
			expect(reply.result).toMatchObject({
				account_expiry_ts: Math.floor(state.expiryMs / 1000),
				account_auto_renewing: true,
			});
			expect(await payments(master)).toMatchObject({
				payments_total: 1,
				items: [
					{
						status: "redeemed",
						plan: "1m",
						payment_provider: "google_play",
						payment_id: `${token}|${state.orderId}`,
					},
				],
			});

			// The same message delivered again (Pub/Sub is at-least-once) changes nothing.
			const acknowledgedBefore = google.acknowledgements.length;
			google.publish(rtdn(PURCHASED, token));
			await runGoogleJob();
			expect(google.acknowledgements.length).toBe(acknowledgedBefore);
			expect((await payments(master)).payments_total).toBe(1);
		});

		it("cancel, un-cancel and refund follow the subscription resource; the refund lands on the revocation list", async () => {
			const master = randomKeyPair();
			const { token, state } = await buy(master);
			const issued = await proof(master);
			expect(issued.status).toBe("ok");

			testApp.clock.advanceMs(60_000);
			await cancel(token, state);
			expect(await status(master)).toMatchObject({ user_status: "active", auto_renewing: false });

			testApp.clock.advanceMs(60_000);
			await restart(token, state);
			expect(await status(master)).toMatchObject({ user_status: "active", auto_renewing: true });

			const ticket = (await call("/get_pro_revocations", { ticket: 0 })).result.ticket as number;
			testApp.clock.advanceMs(60_000);
			await refund(token, state);
			const revocations = (await call("/get_pro_revocations", { ticket })).result;
			expect(revocations.ticket).toBe(ticket + 1);
			expect(revocations.items).toContainEqual(
				expect.objectContaining({ revocation_tag: issued.result.revocation_tag }),
			);
			expect((await status(master)).user_status).toBe("expired");
			expect((await payments(master)).items[0]).toMatchObject({ status: "revoked" });
			expect((await proof(master)).status).not.toBe("ok");
		});

		it("grace keeps the account covered past the paid term; the renewal's new order extends it", async () => {
			const master = randomKeyPair();
			const { token, state } = await buy(master);

			testApp.clock.advanceMs(30 * DAY_MS);
			await failRenewalIntoGrace(token, state, 3 * DAY_MS);
			expect(await status(master)).toMatchObject({
				user_status: "active",
				expiry_ts: Math.floor(state.expiryMs / 1000),
				// Google's three days plus the renewal latency allowance (an hour).
				grace_period_duration: 3 * 86_400 + 3_600,
			});

			testApp.clock.advanceMs(DAY_MS);
			const renewedExpiry = await renewIntoNextOrder(token, state, RENEWED);
			expect(await status(master)).toMatchObject({
				user_status: "active",
				expiry_ts: Math.floor(renewedExpiry / 1000),
			});
			expect((await payments(master)).payments_total).toBe(2);
		});

		it("account hold ends the entitlement when grace runs out; recovery restores it without a new claim", async () => {
			const master = randomKeyPair();
			const { token, state } = await buy(master);

			testApp.clock.advanceMs(30 * DAY_MS);
			await failRenewalIntoGrace(token, state, 3 * DAY_MS);
			expect((await status(master)).user_status).toBe("active");

			testApp.clock.advanceMs(3 * DAY_MS + 2 * 3_600_000);
			google.setSubscription(token, {
				...state,
				state: "SUBSCRIPTION_STATE_ON_HOLD",
				acknowledged: true,
			});
			google.publish(rtdn(ON_HOLD, token));
			await runGoogleJob();
			expect(await status(master)).toMatchObject({
				user_status: "expired",
				expiry_ts: Math.floor(state.expiryMs / 1000),
				grace_period_duration: 3_600,
			});

			testApp.clock.advanceMs(5 * DAY_MS);
			const recoveredExpiry = await renewIntoNextOrder(token, state, RECOVERED);
			expect(await status(master)).toMatchObject({
				user_status: "active",
				expiry_ts: Math.floor(recoveredExpiry / 1000),
			});
			expect((await proof(master)).status).toBe("ok");
		});

		it("an upgrade re-reads the replaced token: the account moves to the new plan and nothing is revoked", async () => {
			const master = randomKeyPair();
			const monthly = newToken();
			const monthlyState = subscribed(master);
			google.setSubscription(monthly, monthlyState);
			google.publish(rtdn(PURCHASED, monthly));
			await runGoogleJob();
			const issued = await proof(master);
			expect(issued.status).toBe("ok");

			testApp.clock.advanceMs(DAY_MS);
			const quarterly = newToken();
			const quarterlyState = subscribed(master, {
				basePlanId: "session-pro-3-months",
				expiryMs: nowMs() + 90 * DAY_MS,
				linkedPurchaseToken: monthly,
			});
			google.setSubscription(quarterly, quarterlyState);
			// Google sends nothing more for the replaced token; its resource now reads as ended.
			google.setSubscription(monthly, {
				...monthlyState,
				state: "SUBSCRIPTION_STATE_EXPIRED",
				autoRenewEnabled: false,
				acknowledged: true,
				expiryMs: nowMs(),
			});
			google.publish(rtdn(PURCHASED, quarterly));
			await runGoogleJob();
			await runGoogleJob();
			expect(google.reads.get(monthly)).toBe(2);
			expect(await status(master)).toMatchObject({
				user_status: "active",
				expiry_ts: Math.floor(quarterlyState.expiryMs / 1000),
				latest_payment: { plan: "3m" },
			});
			const revocations = (await call("/get_pro_revocations", { ticket: 0 })).result;
			expect(revocations.ticket).toBe(0);
			expect((await proof(master)).result.revocation_tag).toBe(issued.result.revocation_tag);
		});

		it("a voided order (refund outside the subscription's revoke) ends the account: upstream ignored these", async () => {
			const master = randomKeyPair();
			const { token, state } = await buy(master);
			const issued = await proof(master);

			testApp.clock.advanceMs(60_000);
			google.publish({
				version: "1.0",
				packageName: google.packageName,
				eventTimeMillis: String(nowMs()),
				voidedPurchaseNotification: {
					purchaseToken: token,
					orderId: state.orderId,
					productType: 1,
					refundType: 1,
				},
			});
			await runGoogleJob();
			expect((await status(master)).user_status).toBe("expired");
			const revocations = (await call("/get_pro_revocations", { ticket: 0 })).result;
			expect(revocations.items).toContainEqual(
				expect.objectContaining({ revocation_tag: issued.result.revocation_tag }),
			);
		});

		it("pushed notifications need Google's token for the configured audience; redeliveries are answered without a second effect", async () => {
			const master = randomKeyPair();
			const token = newToken();
			google.setSubscription(token, subscribed(master));
			const body = rtdn(PURCHASED, token);

			const forged = await push(body, { signedBy: "someone else" });
			expect(forged.statusCode).toBe(401);
			expect(forged.json().error_description).toMatch(/^authorization: /);
			const wrongAudience = await push(body, { audience: "https://elsewhere.example/push" });
			expect(wrongAudience.statusCode).toBe(401);
			const bare = await testApp.app.inject({
				method: "POST",
				url: "/google_notifications",
				payload: (await google.pushRequest(body)).body,
			});
			expect(bare.statusCode).toBe(401);
			await runGoogleJob();
			expect((await status(master)).user_status).toBe("never");

			const first = await push(body, { messageId: "77" });
			expect(first.statusCode).toBe(204);
			expect((await push(body, { messageId: "77" })).statusCode).toBe(204);
			await runGoogleJob();
			expect((await status(master)).user_status).toBe("active");
			expect(google.reads.get(token)).toBe(1);
		});

		it("a message for another app or a malformed one is refused by name, and nothing is written", async () => {
			const master = randomKeyPair();
			const token = newToken();
			google.setSubscription(token, subscribed(master));

			const otherApp = await push({ ...rtdn(PURCHASED, token), packageName: "com.example.other" });
			expect(otherApp.statusCode).toBe(400);
			expect(otherApp.json().error_description).toMatch(/^message\.data\.packageName: /);
			const noTime = await push({ ...rtdn(PURCHASED, token), eventTimeMillis: "yesterday" });
			expect(noTime.statusCode).toBe(400);
			expect(noTime.json().error_description).toMatch(/^message\.data\.eventTimeMillis: /);
			const { authorization, body } = await google.pushRequest(rtdn(PURCHASED, token));
			const noData = await testApp.app.inject({
				method: "POST",
				url: "/google_notifications",
				headers: { authorization },
				payload: { ...body, message: { messageId: "1" } },
			});
			expect(noData.statusCode).toBe(400);
			expect(noData.json().error_description).toMatch(/^message\.data: /);

			// The pulled copy of a foreign message stays unacknowledged, for Pub/Sub to redeliver or dead-letter.
			google.publish({ ...rtdn(PURCHASED, token), packageName: "com.example.other" });
			await runGoogleJob();
			expect(google.unacknowledged()).toBe(1);
			expect(google.reads.get(token)).toBeUndefined();
			expect((await status(master)).user_status).toBe("never");
			google.expireAckDeadlines();
			await runGoogleJob();
			expect(google.unacknowledged()).toBe(1);
			google.discardMessages();
		});

		it("a failing Play API read is retried with backoff, and the purchase lands once Google answers", async () => {
			const master = randomKeyPair();
			const token = newToken();
			google.setSubscription(token, subscribed(master));
			google.failSubscriptionReads(503);
			google.publish(rtdn(PURCHASED, token));
			await runGoogleJob();
			expect(google.unacknowledged()).toBe(0);
			expect(google.reads.get(token)).toBe(1);

			await runGoogleJob();
			expect(google.reads.get(token)).toBe(1);
			testApp.clock.advanceMs(60_000);
			await runGoogleJob();
			expect(google.reads.get(token)).toBe(2);

			google.failSubscriptionReads(null);
			testApp.clock.advanceMs(60_000);
			await runGoogleJob();
			expect(google.reads.get(token)).toBe(2);
			testApp.clock.advanceMs(60_000);
			await runGoogleJob();
			expect(google.reads.get(token)).toBe(3);
			expect((await status(master)).user_status).toBe("active");
		});

		it("a purchase Google keeps failing on is parked after about a week of retries; its next notification revives it", async () => {
			const master = randomKeyPair();
			const token = newToken();
			google.setSubscription(token, subscribed(master));
			google.failSubscriptionReads(500);
			google.publish(rtdn(PURCHASED, token));
			await runGoogleJob();
			for (let attempt = 2; attempt <= 40; attempt++) {
				testApp.clock.advanceMs(6 * 3_600_000);
				await runGoogleJob();
			}
			expect(google.reads.get(token)).toBe(36);
			expect(
				testApp.logs().some((line) => String(line.msg).startsWith("Google Play purchase parked")),
			).toBe(true);

			google.failSubscriptionReads(null);
			google.publish(rtdn(PURCHASED, token));
			await runGoogleJob();
			expect(google.reads.get(token)).toBe(37);
			expect((await status(master)).user_status).toBe("active");
		});

		it("a notification that arrives while its token is being read is not lost: the token is read again", async () => {
			const master = randomKeyPair();
			const token = newToken();
			const state = subscribed(master);
			google.setSubscription(token, state);
			google.publish(rtdn(PURCHASED, token));
			// The user cancels while the drain is fetching the purchase, whose answer still says it renews.
			google.duringNextSubscriptionRead(async () => {
				expect((await push(rtdn(CANCELED, token))).statusCode).toBe(204);
			});
			await runGoogleJob();
			expect(await status(master)).toMatchObject({ user_status: "active", auto_renewing: true });
			google.setSubscription(token, {
				...state,
				state: "SUBSCRIPTION_STATE_CANCELED",
				autoRenewEnabled: false,
				acknowledged: true,
			});
			await runGoogleJob();
			expect(google.reads.get(token)).toBe(2);
			expect(await status(master)).toMatchObject({ user_status: "active", auto_renewing: false });
		});

		// Upstream test.py (specs/session-pro.md §13.2, §13.7), seen by a legacy v0 client that claims with
		// /add_pro_payment and reads /get_pro_details, partly through onion requests.
		const legacyClaim = (master: KeyPair, token: string, orderId: string) =>
			call(
				"/add_pro_payment",
				legacyAddPaymentRequest(master, randomKeyPair(), {
					provider: 1,
					google_payment_token: token,
					google_order_id: orderId,
				}),
			);
		const legacyDetails = (master: KeyPair) =>
			call("/get_pro_details", legacyProDetailsRequest(master, nowMs(), 10)).then(
				(reply) => reply.result,
			);
		const legacyProofStatus = async (master: KeyPair) =>
			(
				await call(
					"/generate_pro_proof",
					legacyGenerateProofRequest(master, randomKeyPair(), nowMs()),
				)
			).status as number;
		const legacyRevocations = (ticket: number) =>
			call("/get_pro_revocations", { version: 0, ticket }).then((reply) => reply.result);

		it("legacy v0 (test.py same_user_stacks_subscription_and_auto_redeem): a claim answers a proof, a second claim AlreadyRedeemed, a renewal binds to the same key without one", async () => {
			const master = randomKeyPair();
			const { token, state } = await buy(master);
			const claimed = await legacyClaim(master, token, state.orderId);
			expect(claimed.status).toBe(0);
			const signingKey = (await call("/status", {})).result.signing_pubkey as string;
			expect(legacyProofSignatureValid(signingKey, claimed.result)).toBe(true);
			expect(await legacyClaim(master, token, state.orderId)).toEqual({
				status: 100,
				errors: ["Payment was already redeemed"],
			});
			// Another key cannot claim it.
			expect((await legacyClaim(randomKeyPair(), token, state.orderId)).status).toBe(101);

			testApp.clock.advanceMs(30 * DAY_MS - 3_600_000);
			const renewedExpiry = await renewIntoNextOrder(token, state, RENEWED);
			const details = await legacyDetails(master);
			expect(details).toMatchObject({
				status: 1,
				auto_renewing: true,
				payments_total: 2,
				// The store declared no grace: the backend's default hour.
				grace_period_duration_ms: 3_600_000,
				expiry_unix_ts_ms: renewedExpiry + 3_600_000,
			});
			expect(details.items.map((item: { status: number }) => item.status)).toEqual([2, 2]);
			expect(details.items[0]).toMatchObject({
				google_payment_token: token,
				google_order_id: `${state.orderId}..0`,
			});
			expect(details.items[0].redeemed_unix_ts_ms).toBeGreaterThan(0);
			// Stacking and renewing revoke nothing.
			expect((await legacyRevocations(0)).items).toEqual([]);

			// Cancelling turns auto-renew off, and with it the grace.
			await cancel(token, { ...state, orderId: `${state.orderId}..0`, expiryMs: renewedExpiry });
			const serverKey = await serverOnionKey(Buffer.from(signingKey, "hex"));
			const throughOnion = await postJsonThroughOnion(
				testApp.app,
				serverKey,
				"/get_pro_details",
				legacyProDetailsRequest(master, nowMs(), 1),
			);
			expect(JSON.parse(throughOnion.body.toString()).result).toMatchObject({
				status: 1,
				auto_renewing: false,
				grace_period_duration_ms: 0,
				expiry_unix_ts_ms: renewedExpiry,
			});
		});

		it("legacy v0 (test.py google scenario 1M → cancel → un-cancel → refund): the refund revokes the proofs a legacy client holds", async () => {
			const master = randomKeyPair();
			const { token, state } = await buy(master);
			const claimed = await legacyClaim(master, token, state.orderId);
			expect(claimed.status).toBe(0);

			await cancel(token, state);
			expect(await legacyDetails(master)).toMatchObject({ status: 1, auto_renewing: false });
			await restart(token, state);
			expect(await legacyDetails(master)).toMatchObject({ status: 1, auto_renewing: true });

			// Unlike upstream, cancelling revoked the proofs that outlasted the shortened entitlement (as in
			// 0.2.0: one ledger); the refund revokes the generation that followed.
			const { ticket } = await legacyRevocations(0);
			const afterRestart = await call(
				"/generate_pro_proof",
				legacyGenerateProofRequest(master, randomKeyPair(), nowMs()),
			);
			testApp.clock.advanceMs(60_000);
			await refund(token, state);
			const revocations = await legacyRevocations(ticket);
			expect(revocations.ticket).toBe(ticket + 1);
			const listed = revocations.items.map(
				(item: { gen_index_hash: string }) => item.gen_index_hash,
			);
			expect(listed).toContain(claimed.result.gen_index_hash);
			expect(listed).toContain(afterRestart.result.gen_index_hash);
			const details = await legacyDetails(master);
			expect(details).toMatchObject({ status: 2, auto_renewing: false });
			expect(details.items[0]).toMatchObject({ status: 4 });
			expect(await legacyProofStatus(master)).toBe(1);
		});

		it("legacy v0 (test.py google scenario buy → grace → hold → recover): grace covers the account, hold ends it, recovery restores it", async () => {
			const master = randomKeyPair();
			const { token, state } = await buy(master);
			expect((await legacyClaim(master, token, state.orderId)).status).toBe(0);

			testApp.clock.advanceMs(30 * DAY_MS);
			await failRenewalIntoGrace(token, state, 3 * DAY_MS);
			expect(await legacyDetails(master)).toMatchObject({
				status: 1,
				grace_period_duration_ms: 3 * DAY_MS,
				expiry_unix_ts_ms: state.expiryMs + 3 * DAY_MS,
			});
			// A proof is still signed inside the grace, up to its end.
			const inGrace = await call(
				"/generate_pro_proof",
				legacyGenerateProofRequest(master, randomKeyPair(), nowMs()),
			);
			expect(inGrace.status).toBe(0);
			expect(inGrace.result.expiry_unix_ts_ms).toBeLessThanOrEqual(state.expiryMs + 3 * DAY_MS);

			testApp.clock.advanceMs(3 * DAY_MS + 2 * 3_600_000);
			google.setSubscription(token, {
				...state,
				state: "SUBSCRIPTION_STATE_ON_HOLD",
				acknowledged: true,
			});
			google.publish(rtdn(ON_HOLD, token));
			await runGoogleJob();
			expect((await legacyDetails(master)).status).toBe(2);

			testApp.clock.advanceMs(5 * DAY_MS);
			const recoveredExpiry = await renewIntoNextOrder(token, state, RECOVERED);
			expect(await legacyDetails(master)).toMatchObject({
				status: 1,
				expiry_unix_ts_ms: recoveredExpiry + 3_600_000,
				payments_total: 2,
			});
		});

		it("legacy v0 (test.py google scenario: purchase never redeemed, then developer refund): the claim finds no payment", async () => {
			const master = randomKeyPair();
			const { token, state } = await buy(master);
			await refund(token, state);
			expect(await legacyClaim(master, token, state.orderId)).toMatchObject({ status: 101 });
			expect((await legacyDetails(master)).status).toBe(0);
		});
	});
}
