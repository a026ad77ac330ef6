/**
 * The inputs the fuzzer of issue 11 found answered with a 500 or an internal_error, each now a clear 4xx
 * (or the protocol's own refusal) naming what is wrong.
 * @see issue 11
 */
import type { InjectOptions } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEV_SEED } from "../../src/keys/service-keys.ts";
import { x25519FromEd25519Seed } from "../../src/lib/ed25519.ts";
import { buildFullApp, FULL_APP_API_KEY, type FullApp } from "../support/full-app.ts";
import { buildOnionRequest, sodiumReady, v4Plaintext } from "../support/onion-client.ts";

let full: FullApp;
beforeAll(async () => {
	await sodiumReady();
	full = await buildFullApp();
});
afterAll(async () => {
	await full.close();
});

const inject = (options: InjectOptions) => full.testApp.app.inject(options);
const nested = (depth: number) => `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
const auth = { authorization: `Bearer ${FULL_APP_API_KEY}` };
const masterKey = "11".repeat(32);

describe("bad input", () => {
	it("session data nested 5,000 deep is a 400 naming the limit, on create and on update", async () => {
		const body = `{"data":${nested(5_000)}}`;
		const created = await inject({
			method: "POST",
			url: "/sessions",
			headers: { ...auth, "content-type": "application/json" },
			payload: body,
		});
		expect(created.statusCode).toBe(400);
		expect(created.json()).toMatchObject({
			error: "invalid_request",
			error_description: "body: JSON nests deeper than 64 levels",
		});
		const session = await inject({ method: "POST", url: "/sessions", headers: auth, payload: {} });
		const updated = await inject({
			method: "PATCH",
			url: `/sessions/${session.json().session.id}`,
			headers: { ...auth, "content-type": "application/json" },
			payload: body,
		});
		expect(updated.statusCode).toBe(400);
	});

	it("accepts the Bearer scheme in any case (RFC 9110 §11.1)", async () => {
		for (const scheme of ["bearer", "BEARER", "Bearer"]) {
			const response = await inject({
				method: "POST",
				url: "/sessions",
				headers: { authorization: `${scheme} ${FULL_APP_API_KEY}` },
				payload: {},
			});
			expect(response.statusCode).toBe(201);
		}
	});

	it.each([1e13, 2 ** 53 - 1, -1])(
		"a Session Pro timestamp of %d is refused as invalid, naming ts",
		async (ts) => {
			const response = await inject({
				method: "POST",
				url: "/generate_pro_proof",
				payload: {
					master_pkey: masterKey,
					rotating_pkey: "22".repeat(32),
					ts,
					master_sig: "33".repeat(64),
					rotating_sig: "44".repeat(64),
				},
			});
			expect(response.statusCode).toBe(200);
			expect(response.json()).toMatchObject({
				status: "fail",
				error_code: "invalid_request",
				error: expect.stringContaining('Key "ts"'),
			});
		},
	);

	it.each(["constructor", "__proto__", "toString"])(
		"the plan %s is an unrecognised plan, not an internal error",
		async (plan) => {
			const response = await inject({
				method: "POST",
				url: "/dev/add_payment",
				payload: { master_pkey: masterKey, provider: "stf", plan },
			});
			expect(response.json()).toMatchObject({
				status: "fail",
				error_code: "invalid_request",
				error: expect.stringContaining("Unrecognised plan"),
			});
		},
	);

	it("the release channel constructor finds no release, as any unknown channel", async () => {
		const response = await inject({
			method: "GET",
			url: "/session_version?platform=desktop&release_channel=constructor",
		});
		expect(response.statusCode).toBe(502);
		expect(response.body).toBe('{"status_code":502}');
	});

	it("an onion request with enc_type constructor is refused as malformed", async () => {
		const x25519 = x25519FromEd25519Seed(DEV_SEED);
		const request = buildOnionRequest(
			x25519.publicKey,
			v4Plaintext({ method: "GET", endpoint: "/file/x/info" }),
			{
				cipher: "aes-gcm",
				encType: "constructor",
			},
		);
		const response = await inject({
			method: "POST",
			url: "/oxen/v4/lsrpc",
			headers: { "content-type": "application/octet-stream" },
			payload: Buffer.from(request.body),
		});
		expect(response.statusCode).toBe(400);
		expect(response.json()).toMatchObject({ error: "invalid_request" });
	});
});
