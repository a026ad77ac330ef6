/**
 * Session Pro (upstream 0.3.0 wire protocol) as a client written from the protocol text sees it
 * (test/support/pro-client.ts, @noble): dev-mode payments, implicit claims, proofs for rotating keys,
 * revocations by ticket, status and paginated payment history, and the protocol's refusals — directly and
 * through onion requests, on SQLite and PostgreSQL. Vectors: libsession-util's published KATs.
 */
import { readFileSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ed25519FromSeed } from "../../src/lib/ed25519.ts";
import { proofExpiryMs } from "../../src/modules/entitlements/entitlement.ts";
import { appAccountTokenFor } from "../../src/modules/entitlements/entitlement-service.ts";
import { proofMessage, signedMessage } from "../../src/modules/entitlements/protocol.ts";
import {
	appBackends,
	buildTestApp,
	buildTestAppOn,
	type TestApp,
} from "../support/build-test-app.ts";
import { postJsonThroughOnion, sodiumReady } from "../support/onion-client.ts";
import { statusOfPartialPost } from "../support/partial-post.ts";
import {
	generateProofRequest,
	type KeyPair,
	keyPair,
	masterKeyFromAccountSeed,
	paymentDetailsRequest,
	proofSignatureValid,
	proStatusRequest,
	randomKeyPair,
} from "../support/pro-client.ts";

const vectors = JSON.parse(
	readFileSync(new URL("../vectors/entitlements.json", import.meta.url), "utf8"),
);
const fromHex = (text: string) => new Uint8Array(Buffer.from(text, "hex"));
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const DEV_PUBKEY = "fc947730f49eb01427a66e050733294d9e520e545c7a27125a780634e0860a27";
const DAY_S = 86_400;

describe("Session Pro vectors", () => {
	it.each(vectors.master_key_derivation as { account_seed: string; pro_pubkey: string }[])(
		"the test client derives libsession's master key for seed $account_seed",
		(vector) => {
			expect(masterKeyFromAccountSeed(fromHex(vector.account_seed)).hex).toBe(vector.pro_pubkey);
		},
	);

	it("Tollgate builds libsession's signed messages byte for byte", () => {
		const kat = vectors.kat;
		const master = fromHex(kat.master_pubkey);
		const rotating = fromHex(kat.rotating_pubkey);
		expect(hex(signedMessage("ProGenerateProof", master, rotating, kat.ts))).toBe(
			kat.generate_proof_message,
		);
		expect(hex(signedMessage("ProGetProStatus_", master, kat.ts))).toBe(kat.get_pro_status_message);
		expect(hex(signedMessage("ProGetPayDetails", master, kat.ts, kat.limit, ""))).toBe(
			kat.get_payment_details_message_first_page,
		);
		expect(hex(signedMessage("ProGetPayDetails", master, kat.ts, kat.limit, kat.before))).toBe(
			kat.get_payment_details_message_with_cursor,
		);
		expect(hex(proofMessage(fromHex(kat.revocation_tag), rotating, kat.expiry_ts))).toBe(
			kat.proof_message,
		);
	});

	it("Tollgate's proof signatures equal libsession's KAT and the @noble-computed dev-key vector", async () => {
		const { sign } = await import("node:crypto");
		for (const vector of [
			{
				seed: vectors.kat.backend_seed,
				tag: vectors.kat.revocation_tag,
				rotating: vectors.kat.rotating_pubkey,
				expiry: vectors.kat.expiry_ts,
				signature: vectors.kat.proof_signature,
			},
			{
				seed: vectors.dev_key_proof.backend_seed,
				tag: vectors.dev_key_proof.revocation_tag,
				rotating: vectors.dev_key_proof.rotating_pubkey,
				expiry: vectors.dev_key_proof.expiry_ts,
				signature: vectors.dev_key_proof.signature,
			},
		]) {
			const key = ed25519FromSeed(fromHex(vector.seed));
			const message = proofMessage(fromHex(vector.tag), fromHex(vector.rotating), vector.expiry);
			expect(hex(sign(null, message, key.privateKeyObject))).toBe(vector.signature);
		}
	});

	it.each(vectors.apple_account_token as { master_pubkey: string; app_account_token: string }[])(
		"Apple's appAccountToken for $master_pubkey is $app_account_token",
		(vector) => {
			expect(appAccountTokenFor(fromHex(vector.master_pubkey))).toBe(vector.app_account_token);
		},
	);

	it("proof expiries land on the account's daily grid, at most 29 days and 61 minutes ahead plus one grid step", () => {
		const requestAt = Date.UTC(2026, 5, 1, 12, 0, 0);
		const offset = 4_321;
		const expiry = proofExpiryMs(requestAt, requestAt + 90 * DAY_S * 1_000, offset);
		expect((expiry / 1_000 - offset) % DAY_S).toBe(0);
		expect(expiry).toBeGreaterThanOrEqual(requestAt + (29 * DAY_S + 3_660) * 1_000);
		expect(expiry).toBeLessThan(requestAt + (30 * DAY_S + 3_660) * 1_000);
		// Short coverage: the proof ends on the first grid point an hour past it, not 29 days out.
		const short = proofExpiryMs(requestAt, requestAt + 3_600_000, offset);
		expect(short).toBeLessThanOrEqual(requestAt + (2 * 3_600 + 3_660 + DAY_S) * 1_000);
	});
});

for (const backend of appBackends()) {
	describe.skipIf(backend.skip)(`Session Pro routes (${backend.name})`, () => {
		let testApp: TestApp;
		let baseUrl: string;

		beforeEach(async () => {
			// Dev mode on both engines: its /dev routes mint payments with no store involved.
			testApp = await buildTestAppOn(backend, {
				dev: true,
				entitlements: { enabled: true },
			});
			baseUrl = await testApp.app.listen({ host: "127.0.0.1", port: 0 });
		});
		afterEach(async () => {
			await testApp.close();
		});

		const now = () => Math.floor(testApp.clock.nowMs() / 1_000);
		const payloadOf = (body: unknown) => (typeof body === "string" ? body : JSON.stringify(body));

		/** Over HTTP, as a Session client calls. */
		async function call(path: string, body: unknown, contentType = "application/json") {
			const response = await fetch(`${baseUrl}${path}`, {
				method: "POST",
				headers: { "content-type": contentType },
				body: payloadOf(body),
			});
			expect(response.status).toBe(200);
			expect(response.headers.get("content-type")).toBe("application/json");
			return (await response.json()) as Record<string, any>;
		}

		/** In process, the way onion requests reach the same calls. */
		async function callInProcess(path: string, body: unknown) {
			const response = await testApp.app.inject({
				method: "POST",
				url: path,
				headers: { "content-type": "application/json" },
				payload: payloadOf(body),
			});
			expect(response.statusCode).toBe(200);
			expect(response.headers["content-type"]).toBe("application/json");
			return response.json() as Record<string, any>;
		}

		async function buy(master: KeyPair, provider = "google_play", plan = "1M", redeem = false) {
			const bought = await call("/dev/add_payment", {
				master_pkey: master.hex,
				provider,
				plan,
				redeem,
			});
			expect(bought.status).toBe("ok");
			return bought.result;
		}

		const rowCount = async (table: string) =>
			Number(
				(
					await testApp.storage.sql.db
						.withTables<Record<string, Record<string, unknown>>>()
						.selectFrom(table)
						.select((eb) => eb.fn.countAll().as("count"))
						.executeTakeFirstOrThrow()
				).count,
			);

		it("answers /status with its version, clock and signing key, by GET and POST", async () => {
			for (const method of ["GET", "POST"] as const) {
				const response = await testApp.app.inject({ method, url: "/status" });
				expect(response.json()).toEqual({
					status: "ok",
					result: { version: "0.3.0", timestamp: now(), signing_pubkey: DEV_PUBKEY },
				});
			}
		});

		it("never-subscribed accounts: status 'never', proofs refused with not_subscribed", async () => {
			const master = randomKeyPair();
			expect(await call("/get_pro_status", proStatusRequest(master, now()))).toEqual({
				status: "ok",
				result: {
					user_status: "never",
					auto_renewing: false,
					expiry_ts: 0,
					grace_period_duration: 0,
					latest_payment: null,
				},
			});
			const refused = await call(
				"/generate_pro_proof",
				generateProofRequest(master, randomKeyPair(), now()),
			);
			expect(refused).toMatchObject({ status: "fail", error_code: "not_subscribed" });
			expect(await rowCount("pro_users")).toBe(0);
		});

		it("a store payment binds on the account's first signed request; proofs verify and rotate", async () => {
			const master = randomKeyPair();
			const purchase = await buy(master);
			expect(purchase).toMatchObject({ provider: "google_play", plan: "1m", redeemed: false });
			expect(purchase.payment_id).toMatch(/^[0-9a-f-]{36}\|GPA\.[0-9a-f-]{36}$/);

			const rotating = randomKeyPair();
			const proof = await call(
				"/generate_pro_proof",
				generateProofRequest(master, rotating, now()),
			);
			expect(proof.status).toBe("ok");
			const result = proof.result;
			expect(Object.keys(result)).toEqual([
				"revocation_tag",
				"rotating_pkey",
				"expiry_ts",
				"sig",
				"account_expiry_ts",
				"account_grace_period_duration",
				"account_auto_renewing",
			]);
			expect(result.revocation_tag).toMatch(/^[0-9a-f]{64}$/);
			expect(result.rotating_pkey).toBe(rotating.hex);
			expect(proofSignatureValid(DEV_PUBKEY, result)).toBe(true);
			expect(result.account_expiry_ts).toBe(now() + 30 * DAY_S);
			expect(result.account_grace_period_duration).toBe(3_600);
			expect(result.account_auto_renewing).toBe(true);
			expect(result.expiry_ts).toBeGreaterThanOrEqual(now() + 29 * DAY_S + 3_660);
			expect(result.expiry_ts).toBeLessThan(now() + 30 * DAY_S + 3_660);

			// A second device's rotating key: same generation, so the same revocation tag and expiry.
			const other = randomKeyPair();
			const second = await call("/generate_pro_proof", generateProofRequest(master, other, now()));
			expect(second.result.revocation_tag).toBe(result.revocation_tag);
			expect(second.result.expiry_ts).toBe(result.expiry_ts);
			expect(proofSignatureValid(DEV_PUBKEY, second.result)).toBe(true);

			const status = await call("/get_pro_status", proStatusRequest(master, now()));
			expect(status.result).toMatchObject({
				user_status: "active",
				auto_renewing: true,
				expiry_ts: now() + 30 * DAY_S,
				grace_period_duration: 3_600,
				latest_payment: {
					status: "redeemed",
					plan: "1m",
					payment_provider: "google_play",
					auto_renewing: true,
					purchased_ts: now(),
					expiry_ts: now() + 30 * DAY_S,
					grace_period_duration: 0,
					revoked_ts: 0,
					payment_id: purchase.payment_id,
				},
			});
		});

		it("an iOS payment binds through the appAccountToken derived from the master key", async () => {
			const master = masterKeyFromAccountSeed(
				fromHex(vectors.master_key_derivation[0].account_seed),
			);
			await buy(master, "app_store", "3M");
			const status = await call("/get_pro_status", proStatusRequest(master, now()));
			expect(status.result).toMatchObject({
				user_status: "active",
				expiry_ts: now() + 90 * DAY_S,
				latest_payment: { plan: "3m", payment_provider: "app_store" },
			});
		});

		it("revocations: the ticket moves only when one is added, and the revoked tag is listed with its effective time", async () => {
			const master = randomKeyPair();
			await buy(master, "google_play", "1M", true);
			const before = await call(
				"/generate_pro_proof",
				generateProofRequest(master, randomKeyPair(), now()),
			);
			expect(await call("/get_pro_revocations", { ticket: 0 })).toEqual({
				status: "ok",
				result: { ticket: 0, items: [], retry_in: 86_400, retain_for: 2_678_400 },
			});
			const revoked = await call("/dev/revoke", { master_pkey: master.hex });
			expect(revoked.result).toMatchObject({ effective_ts: now(), new_generation_allocated: true });

			const list = await call("/get_pro_revocations", { ticket: 0 });
			expect(list.result).toEqual({
				ticket: 1,
				items: [{ revocation_tag: before.result.revocation_tag, effective_ts: now() }],
				retry_in: 86_400,
				retain_for: 2_678_400,
			});
			expect((await call("/get_pro_revocations", { ticket: 1 })).result.items).toEqual([]);

			const after = await call(
				"/generate_pro_proof",
				generateProofRequest(master, randomKeyPair(), now()),
			);
			expect(after.result.revocation_tag).not.toBe(before.result.revocation_tag);

			// Pruned 31 days on (every proof it revoked has expired by then); pruning never moves the ticket.
			testApp.clock.advanceMs(32 * DAY_S * 1_000);
			const prune = testApp.jobs.find((job) => job.name === "entitlements.prune-revocations");
			await prune?.run({ signal: new AbortController().signal, nowMs: testApp.clock.nowMs() });
			expect(await call("/get_pro_revocations", { ticket: 0 })).toMatchObject({
				result: { ticket: 1, items: [] },
			});
			expect(await rowCount("pro_generations")).toBe(1);
		});

		it("a lapsed subscription: proofs until the pinned expiry, then subscription_expired with the account fields", async () => {
			const master = randomKeyPair();
			await call("/dev/add_payment", {
				master_pkey: master.hex,
				provider: "stf",
				plan: "1M",
				duration: 2 * DAY_S,
			});
			// Past the last proof expiry the account's random daily grid can give: coverage + 1h01m + 24 h.
			testApp.clock.advanceMs((3 * DAY_S + 2 * 3_600) * 1_000);
			const refused = await call(
				"/generate_pro_proof",
				generateProofRequest(master, randomKeyPair(), now()),
			);
			expect(refused).toEqual({
				status: "fail",
				error_code: "subscription_expired",
				error: expect.stringContaining(master.hex),
				account_expiry_ts: now() - DAY_S - 2 * 3_600,
				account_grace_period_duration: 0,
				account_auto_renewing: false,
			});
			const status = await call("/get_pro_status", proStatusRequest(master, now()));
			expect(status.result).toMatchObject({
				user_status: "expired",
				latest_payment: { status: "expired", payment_provider: "stf", auto_renewing: false },
			});
		});

		it("pages payment history newest first with an opaque cursor bound to the account", async () => {
			const master = randomKeyPair();
			const ids: string[] = [];
			for (let index = 0; index < 5; index += 1)
				ids.unshift((await buy(master, "stf", "1M")).payment_id);
			const first = await call("/get_payment_details", paymentDetailsRequest(master, now(), 2, ""));
			expect(first.result.payments_total).toBe(5);
			expect(first.result.items.map((item: { payment_id: string }) => item.payment_id)).toEqual(
				ids.slice(0, 2),
			);
			expect(first.result.next_cursor).toMatch(/^[0-9a-f]{96}$/);
			const second = await call(
				"/get_payment_details",
				paymentDetailsRequest(master, now(), 2, first.result.next_cursor),
			);
			expect(second.result.items.map((item: { payment_id: string }) => item.payment_id)).toEqual(
				ids.slice(2, 4),
			);
			const last = await call(
				"/get_payment_details",
				paymentDetailsRequest(master, now(), 2, second.result.next_cursor),
			);
			expect(last.result.items.length).toBe(1);
			expect(last.result.next_cursor).toBeNull();

			const stranger = randomKeyPair();
			expect(
				await call(
					"/get_payment_details",
					paymentDetailsRequest(stranger, now(), 2, first.result.next_cursor),
				),
			).toEqual({
				status: "fail",
				error_code: "invalid_request",
				error: "Invalid pagination cursor",
			});
			expect(
				await call("/get_payment_details", paymentDetailsRequest(master, now(), 0, "")),
			).toMatchObject({ status: "fail", error: "'limit' must be positive" });
		});

		it("refuses bad input with the protocol's error and writes nothing", async () => {
			const master = randomKeyPair();
			await buy(master);
			const rotating = randomKeyPair();
			const good = generateProofRequest(master, rotating, now());
			const cases: [unknown, string, string][] = [
				["not json", "invalid_request", "Failed to parse JSON body"],
				[[1, 2], "invalid_request", "JSON body was not an object"],
				[{ ...good, ts: undefined }, "invalid_request", 'Required key "ts" is missing'],
				[{ ...good, ts: true }, "invalid_request", 'Key "ts" value was not an integer: "bool"'],
				[{ ...good, ts: 1.5 }, "invalid_request", 'Key "ts" value was not an integer'],
				[
					{ ...good, master_pkey: good.master_pkey.slice(2) },
					"invalid_request",
					"Master public key was not 64 characters, was 62 characters",
				],
				[
					{ ...good, rotating_sig: "zz".repeat(64) },
					"invalid_request",
					"Rotating key signature was not valid hex",
				],
				[
					generateProofRequest(master, rotating, now() - 71),
					"stale_request",
					"outside the tolerance",
				],
				[
					generateProofRequest(master, rotating, now() + 71),
					"stale_request",
					"outside the tolerance",
				],
				[
					{
						...good,
						rotating_sig: generateProofRequest(master, randomKeyPair(), now()).rotating_sig,
					},
					"bad_signature",
					"rotating key",
				],
				[generateProofRequest(master, master, now()), "invalid_request", "cannot be the same"],
				[
					generateProofRequest(keyPair(new Uint8Array(32).fill(0xcd)), rotating, now()),
					"internal_error",
					"Internal key error",
				],
			];
			for (const [body, slug, message] of cases) {
				const refused = await call("/generate_pro_proof", body);
				expect(refused.status).toBe(slug === "internal_error" ? "error" : "fail");
				expect(refused.error_code).toBe(slug);
				expect(refused.error).toContain(message);
				expect(await callInProcess("/generate_pro_proof", body)).toEqual(refused);
			}
			// Nothing was claimed or created by any of them.
			expect(await rowCount("pro_users")).toBe(0);
			expect(await rowCount("pro_generations")).toBe(0);

			const replayedStatus = proStatusRequest(master, now() - 70);
			expect(await call("/get_pro_status", replayedStatus)).toMatchObject({
				error_code: "stale_request",
			});
			const signedByRotating = {
				...proStatusRequest(rotating, now()),
				master_pkey: master.hex,
			};
			expect(await call("/get_pro_status", signedByRotating)).toEqual({
				status: "fail",
				error_code: "bad_signature",
				error: "Signature failed to be verified",
			});
		});

		it("a replay within the ±70 s window gets the same proof and writes nothing; later it is stale", async () => {
			const master = randomKeyPair();
			await buy(master);
			const request = generateProofRequest(master, randomKeyPair(), now());
			const first = await call("/generate_pro_proof", request);
			const rows = [await rowCount("pro_users"), await rowCount("pro_generations")];
			const again = await call("/generate_pro_proof", request);
			expect(again).toEqual(first);
			expect([await rowCount("pro_users"), await rowCount("pro_generations")]).toEqual(rows);
			testApp.clock.advanceMs(71_000);
			expect(await call("/generate_pro_proof", request)).toMatchObject({
				status: "fail",
				error_code: "stale_request",
			});
		});

		it("reads JSON whatever the content type says, as upstream", async () => {
			const response = await call("/get_pro_revocations", { ticket: 0 }, "text/plain");
			expect(response.status).toBe("ok");
		});

		it("over HTTP, sends the request id and security headers, counts in /metrics, and refuses a body over the limit with 413 before it has arrived", async () => {
			const response = await fetch(`${baseUrl}/get_pro_revocations`, {
				method: "POST",
				body: JSON.stringify({ ticket: 0 }),
			});
			expect(response.headers.get("x-request-id")).toMatch(/^[\w-]{8,}$/);
			expect(response.headers.get("x-content-type-options")).toBe("nosniff");
			const metrics = await (await fetch(`${baseUrl}/metrics`)).text();
			expect(metrics).toMatch(
				/^tollgate_http_requests_total\{method="POST",route="\/get_pro_revocations",status_code="200"\} 1$/m,
			);

			const limit = testApp.config.http.body_limit_bytes;
			const target = { port: Number(new URL(baseUrl).port), path: "/generate_pro_proof" };
			const statusOf = (headers: Record<string, string | number>, firstChunk: Buffer) =>
				statusOfPartialPost(target, headers, firstChunk);
			expect(await statusOf({ "content-length": limit * 10 }, Buffer.alloc(1_000))).toBe(413);
			expect(
				await statusOf({ "transfer-encoding": "chunked" }, Buffer.alloc(limit + 1_000, 0x7b)),
			).toBe(413);
		});

		it("answers through onion requests v4 (both ciphers)", async () => {
			const sodium = await sodiumReady();
			const serverPublic = sodium.crypto_sign_ed25519_pk_to_curve25519(fromHex(DEV_PUBKEY));
			expect(hex(serverPublic)).toBe(vectors.dev_key_proof.backend_x25519_pubkey);
			const master = randomKeyPair();
			await buy(master);
			for (const cipher of ["xchacha20", "aes-gcm"] as const) {
				const { meta, body } = await postJsonThroughOnion(
					testApp.app,
					serverPublic,
					"/generate_pro_proof",
					generateProofRequest(master, randomKeyPair(), now()),
					cipher,
				);
				expect(meta).toEqual({ code: 200, headers: { "content-type": "application/json" } });
				const proof = JSON.parse(body.toString());
				expect(proof.status).toBe("ok");
				expect(proofSignatureValid(DEV_PUBKEY, proof.result)).toBe(true);
			}
		});
	});
}

describe("Session Pro outside dev mode", () => {
	it("has no /dev routes", async () => {
		const testApp = await buildTestApp({ dev: false, entitlements: { enabled: true } });
		try {
			const response = await testApp.app.inject({
				method: "POST",
				url: "/dev/add_payment",
				payload: "{}",
			});
			expect(response.statusCode).toBe(404);
		} finally {
			await testApp.close();
		}
	});
});
