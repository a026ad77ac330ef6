/**
 * Legacy v0 Session Pro (Session builds before July 2026) beside 0.2.0 on the same routes, as a legacy
 * client written from the protocol text with libsodium sees it (test/support/pro-legacy-client.ts): proofs,
 * revocations, account details, the legacy envelope and its refusals — over HTTP and through onion
 * requests, on SQLite and PostgreSQL. Adapted from upstream test.py `test_server_add_payment_flow` (§13.3).
 * @see issue 13
 */
import { randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { appBackends, buildTestAppOn, type TestApp } from "../support/build-test-app.ts";
import {
	buildOnionRequest,
	devServerOnionKey,
	postJsonThroughOnion,
} from "../support/onion-client.ts";
import {
	generateProofRequest,
	type KeyPair,
	proStatusRequest,
	randomKeyPair,
} from "../support/pro-client.ts";
import {
	type LegacyProof,
	legacyAddPaymentRequest,
	legacyGenerateProofRequest,
	legacyProDetailsRequest,
	legacyProofSignatureValid,
	legacySetRefundRequest,
} from "../support/pro-legacy-client.ts";

const DEV_PUBKEY = "fc947730f49eb01427a66e050733294d9e520e545c7a27125a780634e0860a27";
const DAY_MS = 86_400_000;

for (const backend of appBackends()) {
	describe.skipIf(backend.skip)(`legacy v0 Session Pro (${backend.name})`, () => {
		let testApp: TestApp;

		beforeEach(async () => {
			testApp = await buildTestAppOn(backend, { dev: true, entitlements: { enabled: true } });
		});
		afterEach(async () => {
			await testApp.close();
		});

		const nowMs = () => testApp.clock.nowMs();

		async function call(path: string, body: unknown) {
			const response = await testApp.app.inject({
				method: "POST",
				url: path,
				payload: typeof body === "string" ? body : JSON.stringify(body),
			});
			expect(response.statusCode).toBe(200);
			return response.json() as Record<string, any>;
		}

		async function buy(master: KeyPair) {
			const bought = await call("/dev/add_payment", {
				master_pkey: master.hex,
				provider: "google_play",
				plan: "1M",
			});
			expect(bought.status).toBe("ok");
		}

		const legacyProof = async (master: KeyPair, rotating = randomKeyPair()) =>
			call("/generate_pro_proof", legacyGenerateProofRequest(master, rotating, nowMs()));

		it("signs a legacy proof for an account entitled through 0.2.0, valid for a legacy client, day-aligned within 31 days", async () => {
			const master = randomKeyPair();
			await buy(master);
			const rotating = randomKeyPair();
			const reply = await legacyProof(master, rotating);
			expect(reply.status).toBe(0);
			const proof = reply.result as LegacyProof & { version: number };
			expect(proof.version).toBe(0);
			expect(proof.rotating_pkey).toBe(rotating.hex);
			expect(legacyProofSignatureValid(DEV_PUBKEY, proof)).toBe(true);
			expect(proof.expiry_unix_ts_ms % DAY_MS).toBe(0);
			expect(proof.expiry_unix_ts_ms).toBeGreaterThan(nowMs() + 30 * DAY_MS - DAY_MS);
			expect(proof.expiry_unix_ts_ms).toBeLessThanOrEqual(nowMs() + 31 * DAY_MS);
			// Every rotating key of one generation shares its gen_index_hash, as upstream.
			const second = await legacyProof(master);
			expect(second.result.gen_index_hash).toBe(proof.gen_index_hash);
			// And the same account answers in 0.2.0 too.
			const modern = await call(
				"/generate_pro_proof",
				generateProofRequest(master, randomKeyPair(), Math.floor(nowMs() / 1_000)),
			);
			expect(modern.status).toBe("ok");
		});

		it("refuses legacy proofs in the legacy envelope: unknown account, revoked, stale, forged", async () => {
			const stranger = randomKeyPair();
			expect(await legacyProof(stranger)).toEqual({
				status: 1,
				errors: [`User ${stranger.hex} does not have an active payment registered for it`],
			});
			const master = randomKeyPair();
			await buy(master);
			const stale = await call(
				"/generate_pro_proof",
				legacyGenerateProofRequest(master, randomKeyPair(), nowMs() - 71_000),
			);
			expect(stale.status).toBe(2);
			const forged = legacyGenerateProofRequest(master, randomKeyPair(), nowMs());
			forged.master_sig = legacyGenerateProofRequest(
				randomKeyPair(),
				randomKeyPair(),
				nowMs(),
			).master_sig;
			expect(await call("/generate_pro_proof", forged)).toEqual({
				status: 1,
				errors: ["Signature failed to be verified"],
			});
		});

		it("lists a revocation on both lists: the legacy one by the proofs' gen_index_hash, polled by ticket", async () => {
			const master = randomKeyPair();
			await buy(master);
			const before = (await legacyProof(master)).result as LegacyProof;
			const empty = await call("/get_pro_revocations", { version: 0, ticket: 0 });
			expect(empty).toEqual({
				status: 0,
				result: { version: 0, ticket: 0, retry_in_s: 86_400, items: [] },
			});
			const modernBefore = await call(
				"/generate_pro_proof",
				generateProofRequest(master, randomKeyPair(), Math.floor(nowMs() / 1_000)),
			);
			expect((await call("/dev/revoke", { master_pkey: master.hex })).status).toBe("ok");

			const legacyList = (await call("/get_pro_revocations", { version: 0, ticket: 0 })).result;
			expect(legacyList.ticket).toBe(1);
			expect(legacyList.items).toHaveLength(1);
			const [item] = legacyList.items;
			expect(item.gen_index_hash).toBe(before.gen_index_hash);
			// Listed until every proof of the revoked generation has expired (upstream pruned earlier).
			expect(item.expiry_unix_ts_ms).toBeGreaterThanOrEqual(before.expiry_unix_ts_ms);
			expect(item.effective_unix_ts_ms).toBeGreaterThan(0);
			expect(item.effective_unix_ts_ms).toBeLessThanOrEqual(item.expiry_unix_ts_ms);
			expect((await call("/get_pro_revocations", { version: 0, ticket: 1 })).result.items).toEqual(
				[],
			);
			const modernList = (await call("/get_pro_revocations", { ticket: 0 })).result;
			expect(
				modernList.items.map((entry: { revocation_tag: string }) => entry.revocation_tag),
			).toEqual([modernBefore.result.revocation_tag]);
			// The account still pays: its next legacy proof is under a new generation.
			const after = (await legacyProof(master)).result as LegacyProof;
			expect(after.gen_index_hash).not.toBe(before.gen_index_hash);
			expect(legacyProofSignatureValid(DEV_PUBKEY, after)).toBe(true);
		});

		it("answers /get_pro_details: never, active with its payments, count 0, and refuses a stale or wrongly signed request with status 2", async () => {
			const master = randomKeyPair();
			const never = await call("/get_pro_details", legacyProDetailsRequest(master, nowMs(), 10));
			expect(never).toMatchObject({ status: 0, result: { version: 0, status: 0, items: [] } });
			await buy(master);
			await buy(master);
			const details = await call("/get_pro_details", legacyProDetailsRequest(master, nowMs(), 1));
			expect(details.status).toBe(0);
			expect(details.result).toMatchObject({
				version: 0,
				status: 1,
				auto_renewing: true,
				payments_total: 2,
				error_report: 0,
			});
			expect(details.result.expiry_unix_ts_ms).toBeGreaterThan(nowMs() + 29 * DAY_MS);
			expect(details.result.items).toHaveLength(1);
			expect(details.result.items[0]).toMatchObject({
				status: 2,
				plan: 1,
				payment_provider: 1,
				auto_renewing: true,
			});
			expect(typeof details.result.items[0].google_payment_token).toBe("string");
			expect(typeof details.result.items[0].google_order_id).toBe("string");
			expect(
				(await call("/get_pro_details", legacyProDetailsRequest(master, nowMs(), 0))).result.items,
			).toEqual([]);
			expect(
				(await call("/get_pro_details", legacyProDetailsRequest(master, nowMs() - 80_000, 1)))
					.status,
			).toBe(2);
			expect(
				await call(
					"/get_pro_details",
					legacyProDetailsRequest(master, nowMs(), 1, randomKeyPair()),
				),
			).toEqual({ status: 2, errors: ["Signature failed to be verified"] });
		});

		it("refuses bad legacy input with status 2, naming the field, and never guesses at a mixed body", async () => {
			const master = randomKeyPair();
			const good = legacyGenerateProofRequest(master, randomKeyPair(), nowMs());
			const refusal = async (body: unknown) => {
				const reply = await call("/generate_pro_proof", body);
				expect(reply.status, JSON.stringify(reply)).toBe(2);
				return reply.errors[0] as string;
			};
			expect(await refusal({ ...good, version: 1 })).toBe("Unrecognised version passed: 1");
			expect(await refusal({ ...good, version: false })).toBe("Unrecognised version passed: false");
			expect(await refusal({ ...good, unix_ts_ms: true })).toContain('Key "unix_ts_ms"');
			expect(await refusal({ ...good, master_pkey: good.master_pkey.slice(2) })).toBe(
				"Master public key was not 64 characters, was 62 characters",
			);
			expect(await refusal({ ...good, ts: Math.floor(nowMs() / 1_000) })).toContain(
				"mixes legacy v0 fields",
			);
			const { version: _version, ...withoutVersion } = good;
			const unversioned = await call("/generate_pro_proof", withoutVersion);
			expect(unversioned).toMatchObject({ status: "fail", error_code: "invalid_request" });
			expect(unversioned.error).toContain('need "version": 0');
			expect(await call("/get_pro_details", { master_pkey: master.hex })).toMatchObject({
				status: 2,
			});
		});

		it("add_pro_payment binds a named payment to the key and answers its proof; a second claim is AlreadyRedeemed, another key's UnknownPayment", async () => {
			const master = randomKeyPair();
			const google = {
				provider: 1 as const,
				google_payment_token: `token-${randomUUID()}`,
				google_order_id: `DEV.${randomUUID()}`,
			};
			const added = await call(
				"/add_pro_payment",
				legacyAddPaymentRequest(master, randomKeyPair(), google, { dev_plan: "ThreeMonth" }),
			);
			expect(added.status, JSON.stringify(added)).toBe(0);
			expect(legacyProofSignatureValid(DEV_PUBKEY, added.result)).toBe(true);
			expect(
				await call("/add_pro_payment", legacyAddPaymentRequest(master, randomKeyPair(), google)),
			).toEqual({
				status: 100,
				errors: ["Payment was already redeemed"],
			});
			const other = randomKeyPair();
			expect(
				(await call("/add_pro_payment", legacyAddPaymentRequest(other, randomKeyPair(), google)))
					.status,
			).toBe(101);
			// Claimed through legacy v0, the account answers in 0.2.0 as well.
			const status = await call(
				"/get_pro_status",
				proStatusRequest(master, Math.floor(nowMs() / 1_000)),
			);
			expect(status.result.user_status).toBe("active");
			expect(status.result.latest_payment.plan).toBe("3m");
		});

		it("signs a proof exactly at the entitlement's deadline and refuses one a millisecond later (upstream test.py)", async () => {
			const master = randomKeyPair();
			const payment = { provider: 2 as const, apple_tx_id: `DEV.${randomUUID()}` };
			const added = await call(
				"/add_pro_payment",
				legacyAddPaymentRequest(master, randomKeyPair(), payment, {
					dev_duration_ms: 2 * DAY_MS,
					dev_auto_renewing: false,
				}),
			);
			expect(added.status, JSON.stringify(added)).toBe(0);
			const deadline = added.result.expiry_unix_ts_ms as number;
			expect(deadline).toBe(nowMs() + 2 * DAY_MS);
			testApp.clock.advanceMs(deadline - nowMs());
			const atDeadline = await legacyProof(master);
			expect(atDeadline.status).toBe(0);
			expect(atDeadline.result.expiry_unix_ts_ms).toBe(deadline);
			expect(
				(await call("/get_pro_details", legacyProDetailsRequest(master, nowMs(), 0))).result.status,
			).toBe(1);
			testApp.clock.advanceMs(1);
			const late = await legacyProof(master);
			expect(late.status).toBe(1);
			expect(late.errors[0]).toContain("entitlement expired");
			expect(
				(await call("/get_pro_details", legacyProDetailsRequest(master, nowMs(), 0))).result.status,
			).toBe(2);
		});

		it("add_pro_payment claims an App Store payment that carries no appAccountToken, as legacy iOS makes them", async () => {
			const master = randomKeyPair();
			const apple = { provider: 2 as const, apple_tx_id: `DEV.${Date.now()}` };
			const added = await call(
				"/add_pro_payment",
				legacyAddPaymentRequest(master, randomKeyPair(), apple),
			);
			expect(added.status, JSON.stringify(added)).toBe(0);
			const details = await call("/get_pro_details", legacyProDetailsRequest(master, nowMs(), 5));
			expect(details.result.items[0]).toMatchObject({
				payment_provider: 2,
				apple_tx_id: apple.apple_tx_id,
			});
		});

		it("add_pro_payment refuses a payment the key did not make, an unknown one, and a bad provider", async () => {
			const owner = randomKeyPair();
			const bought = await call("/dev/add_payment", {
				master_pkey: owner.hex,
				provider: "google_play",
				plan: "1M",
				redeem: false,
			});
			const [token = "", order = ""] = String(bought.result.payment_id).split("|");
			const named = { provider: 1 as const, google_payment_token: token, google_order_id: order };
			const stranger = randomKeyPair();
			expect(
				(await call("/add_pro_payment", legacyAddPaymentRequest(stranger, randomKeyPair(), named)))
					.status,
			).toBe(101);
			expect(
				(await call("/add_pro_payment", legacyAddPaymentRequest(owner, randomKeyPair(), named)))
					.status,
			).toBe(0);
			const unknown = {
				provider: 1 as const,
				google_payment_token: "t",
				google_order_id: "GPA.none",
			};
			expect(
				(await call("/add_pro_payment", legacyAddPaymentRequest(owner, randomKeyPair(), unknown)))
					.status,
			).toBe(101);
			const rangeproof = legacyAddPaymentRequest(owner, randomKeyPair(), named);
			expect(
				await call("/add_pro_payment", { ...rangeproof, payment_tx: { provider: 3 } }),
			).toEqual({ status: 2, errors: ["Bad payment provider given"] });
		});

		it("set_payment_refund_requested records the holder's refund request on their own App Store payment only", async () => {
			const master = randomKeyPair();
			const apple = { provider: 2 as const, apple_tx_id: `DEV.${randomUUID()}` };
			expect(
				(await call("/add_pro_payment", legacyAddPaymentRequest(master, randomKeyPair(), apple)))
					.status,
			).toBe(0);
			const askedAt = nowMs() - 5_000;
			expect(
				await call(
					"/set_payment_refund_requested",
					legacySetRefundRequest(master, nowMs(), askedAt, apple),
				),
			).toEqual({ status: 0, result: { version: 0, updated: true } });
			const details = (await call("/get_pro_details", legacyProDetailsRequest(master, nowMs(), 5)))
				.result;
			expect(details.refund_requested_unix_ts_ms).toBe(askedAt);
			expect(details.items[0].refund_requested_unix_ts_ms).toBe(askedAt);
			// Upstream updated whichever account's payment the id named; here another key changes nothing.
			const stranger = randomKeyPair();
			expect(
				await call(
					"/set_payment_refund_requested",
					legacySetRefundRequest(stranger, nowMs(), 0, apple),
				),
			).toEqual({ status: 0, result: { version: 0, updated: false } });
			expect(
				(await call("/get_pro_details", legacyProDetailsRequest(master, nowMs(), 5))).result
					.refund_requested_unix_ts_ms,
			).toBe(askedAt);
			expect(
				(
					await call(
						"/set_payment_refund_requested",
						legacySetRefundRequest(master, nowMs(), 0, apple),
					)
				).result.updated,
			).toBe(true);
			expect(
				(await call("/get_pro_details", legacyProDetailsRequest(master, nowMs(), 5))).result
					.refund_requested_unix_ts_ms,
			).toBe(0);
			const google = { provider: 1 as const, google_payment_token: "t", google_order_id: "o" };
			expect(
				await call(
					"/set_payment_refund_requested",
					legacySetRefundRequest(master, nowMs(), 1, google),
				),
			).toEqual({ status: 2, errors: ["Bad payment provider given"] });
			expect(
				(
					await call(
						"/set_payment_refund_requested",
						legacySetRefundRequest(master, nowMs() - 90_000, 1, apple),
					)
				).status,
			).toBe(2);
		});

		it("answers legacy calls through onion requests v4", async () => {
			const serverPublic = await devServerOnionKey();
			const master = randomKeyPair();
			await buy(master);
			for (const [endpoint, body] of [
				["/generate_pro_proof", legacyGenerateProofRequest(master, randomKeyPair(), nowMs())],
				["/get_pro_details", legacyProDetailsRequest(master, nowMs(), 5)],
				["/get_pro_revocations", { version: 0, ticket: 0 }],
			] as const) {
				const opened = await postJsonThroughOnion(testApp.app, serverPublic, endpoint, body);
				const reply = JSON.parse(opened.body.toString());
				expect(reply.status, endpoint).toBe(0);
				if (endpoint === "/generate_pro_proof")
					expect(legacyProofSignatureValid(DEV_PUBKEY, reply.result)).toBe(true);
			}
		});

		it("answers legacy calls through onion requests v3 as well", async () => {
			const serverPublic = await devServerOnionKey();
			const master = randomKeyPair();
			await buy(master);
			const request = buildOnionRequest(
				serverPublic,
				Buffer.from(
					JSON.stringify({
						method: "POST",
						endpoint: "/generate_pro_proof",
						headers: { "content-type": "application/json" },
						body: JSON.stringify(legacyGenerateProofRequest(master, randomKeyPair(), nowMs())),
					}),
				),
				{ cipher: "xchacha20" },
			);
			const response = await testApp.app.inject({
				method: "POST",
				url: "/loki/v3/lsrpc",
				payload: request.body,
			});
			expect(response.statusCode).toBe(200);
			const reply = JSON.parse(
				Buffer.from(request.decrypt(Buffer.from(response.body, "base64"))).toString(),
			);
			expect(reply.status).toBe(0);
			expect(legacyProofSignatureValid(DEV_PUBKEY, reply.result)).toBe(true);
		});

		it("serves only the protocols configured", async () => {
			const modernOnly = await buildTestAppOn(backend, {
				dev: true,
				entitlements: { enabled: true, protocols: ["0.2.0"] },
			});
			try {
				const reply = await modernOnly.app.inject({
					method: "POST",
					url: "/generate_pro_proof",
					payload: JSON.stringify(
						legacyGenerateProofRequest(randomKeyPair(), randomKeyPair(), nowMs()),
					),
				});
				expect(reply.json()).toMatchObject({ status: "fail", error_code: "invalid_request" });
				const details = await modernOnly.app.inject({
					method: "POST",
					url: "/get_pro_details",
					payload: "{}",
				});
				expect(details.statusCode).toBe(404);
			} finally {
				await modernOnly.close();
			}
		});
	});
}
