/**
 * Onion requests v4 (src/transports/onion) against vectors and a client computed with libsodium and @noble
 * (test/vectors/onion.json, test/support/onion-client.ts), then end to end through POST /oxen/v4/lsrpc.
 */
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyPluginAsync } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ed25519FromSeed, x25519FromEd25519Seed } from "../../src/lib/ed25519.ts";
import {
	onionKey,
	onionReachable,
	openOnionRequest,
	parseOuterRequest,
} from "../../src/transports/onion/index.ts";
import { buildTestApp, type TestApp } from "../support/build-test-app.ts";
import {
	buildOnionRequest,
	type ClientCipher,
	devServerOnionKey,
	sodiumReady,
	v4Plaintext,
} from "../support/onion-client.ts";

const vectors = JSON.parse(
	readFileSync(new URL("../vectors/onion.json", import.meta.url), "utf8"),
) as Record<string, string & { body: string }>;
const fromHex = (text: string) => Buffer.from(text, "hex");
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

describe("onion vectors (libsodium / @noble)", () => {
	it("libsodium still computes the stored vectors", async () => {
		const sodium = await sodiumReady();
		const signing = sodium.crypto_sign_seed_keypair(fromHex(vectors.server_ed25519_seed ?? ""));
		const serverSecret = sodium.crypto_sign_ed25519_sk_to_curve25519(signing.privateKey);
		expect(hex(serverSecret)).toBe(vectors.server_x25519_secret);
		expect(
			hex(
				sodium.crypto_scalarmult(
					fromHex(vectors.client_x25519_secret ?? ""),
					sodium.crypto_scalarmult_base(serverSecret),
				),
			),
		).toBe(vectors.shared_secret);
	});

	it("Tollgate derives the same server keys and cipher keys", () => {
		const seed = fromHex(vectors.server_ed25519_seed ?? "");
		expect(hex(ed25519FromSeed(seed).publicKey)).toBe(vectors.server_ed25519_public);
		const x25519 = x25519FromEd25519Seed(seed);
		expect(hex(x25519.privateKey)).toBe(vectors.server_x25519_secret);
		expect(hex(x25519.publicKey)).toBe(vectors.server_x25519_public);
		const args = [
			fromHex(vectors.shared_secret ?? ""),
			fromHex(vectors.client_x25519_public ?? ""),
			x25519.publicKey,
		] as const;
		expect(hex(onionKey("xchacha20", ...args))).toBe(vectors.xchacha20_key);
		expect(hex(onionKey("aes-gcm", ...args))).toBe(vectors.aes_gcm_key);
	});

	it.each(["request_xchacha20", "request_aes_gcm"])(
		"Tollgate opens the %s vector to the inner request",
		(name) => {
			const vector = vectors[name] as unknown as { body: string };
			const outer = parseOuterRequest(fromHex(vector.body));
			const session = openOnionRequest(
				[x25519FromEd25519Seed(fromHex(vectors.server_ed25519_seed ?? ""))],
				outer.cipher,
				outer.ephemeralKey,
				outer.ciphertext,
			);
			expect(Buffer.from(session?.plaintext ?? []).toString()).toBe(vectors.inner_request);
		},
	);
});

describe("POST /oxen/v4/lsrpc", () => {
	const APP_KEY = "onion-test-app-key-0123456789";
	let testApp: TestApp;
	let serverPublic: Uint8Array;

	beforeAll(async () => {
		await sodiumReady();
		testApp = await buildTestApp({ sessions: { app_api_keys: [APP_KEY] } });
		// Routes that Session clients may reach (as the files and Session Pro routes are), to carry requests to.
		testApp.app.get("/test/status", { config: onionReachable }, async () => ({ status: "ok" }));
		testApp.app.post("/test/echo_json", { config: onionReachable }, async (request) => ({
			body: request.body,
			authorization: request.headers.authorization ?? null,
		}));
		serverPublic = await devServerOnionKey();
	});
	afterAll(async () => {
		await testApp.close();
	});

	async function send(body: Buffer) {
		return testApp.app.inject({
			method: "POST",
			url: "/oxen/v4/lsrpc",
			headers: { "content-type": "application/octet-stream" },
			payload: body,
		});
	}

	it.each<ClientCipher>(["xchacha20", "aes-gcm"])(
		"carries a GET to a Session client route and encrypts its reply (%s)",
		async (cipher) => {
			const request = buildOnionRequest(
				serverPublic,
				v4Plaintext({ endpoint: "/test/status", headers: {}, method: "GET" }),
				{ cipher },
			);
			const response = await send(request.body);
			expect(response.statusCode).toBe(200);
			const { meta, body } = request.openReply(response.rawPayload);
			expect(meta.code).toBe(200);
			expect(meta.headers["content-type"]).toBe("application/json; charset=utf-8");
			expect(meta.headers["content-length"]).toBeUndefined();
			expect(JSON.parse(body.toString())).toEqual({ status: "ok" });
		},
	);

	it("carries a POST with headers and a JSON body", async () => {
		const payload = Buffer.from(JSON.stringify({ user_id: "onion-user", groups: ["one"] }));
		const plaintext = v4Plaintext(
			{
				method: "POST",
				endpoint: "/test/echo_json",
				headers: { "Content-Type": "application/json", Authorization: `Bearer ${APP_KEY}` },
			},
			payload,
		);
		const request = buildOnionRequest(serverPublic, plaintext, {
			cipher: "xchacha20",
			keyEncoding: "base64",
		});
		const { meta, body } = request.openReply((await send(request.body)).rawPayload);
		expect(meta.code).toBe(200);
		expect(JSON.parse(body.toString())).toEqual({
			body: { user_id: "onion-user", groups: ["one"] },
			authorization: `Bearer ${APP_KEY}`,
		});
	});

	it("returns inner errors encrypted, with their real status and body", async () => {
		const request = buildOnionRequest(
			serverPublic,
			v4Plaintext({ method: "GET", endpoint: "/no/such/route" }),
			{ cipher: "aes-gcm" },
		);
		const response = await send(request.body);
		expect(response.statusCode).toBe(200);
		const { meta, body } = request.openReply(response.rawPayload);
		expect(meta.code).toBe(404);
		expect(JSON.parse(body.toString()).error).toBe("not_found");
	});

	it("answers an endpoint without a leading / with an encrypted 400 'Invalid v4 onion request'", async () => {
		const request = buildOnionRequest(
			serverPublic,
			v4Plaintext({ method: "GET", endpoint: "test/status" }),
			{ cipher: "xchacha20" },
		);
		const { meta, body } = request.openReply((await send(request.body)).rawPayload);
		expect(meta).toEqual({ code: 400, headers: { "content-type": "text/plain; charset=utf-8" } });
		expect(body.toString()).toBe("Invalid v4 onion request");
	});

	it.each(["/oxen/v3/lsrpc", "/loki/v3/lsrpc"])(
		"answers the deprecated v3 at %s: base64 of the encrypted body",
		async (path) => {
			const v3 = (request: Record<string, unknown>) => {
				const built = buildOnionRequest(serverPublic, Buffer.from(JSON.stringify(request)), {
					cipher: "xchacha20",
				});
				return testApp.app
					.inject({ method: "POST", url: path, payload: built.body })
					.then((response) =>
						JSON.parse(Buffer.from(built.decrypt(Buffer.from(response.body, "base64"))).toString()),
					);
			};
			// As upstream's test_v3: an endpoint without its leading slash.
			expect(await v3({ method: "GET", endpoint: "test/status" })).toEqual({ status: "ok" });
			expect(await v3({ method: "GET", endpoint: "/no/such/route" })).toEqual({ status_code: 404 });
			expect(await v3({ method: "GET", endpoint: "/test/status", body: "null" })).toEqual({
				status: "ok",
			});
			expect(await v3({ method: "GET", endpoint: "/test/status", body: "unexpected" })).toEqual({
				status_code: 400,
			});
			// A stale content-length from the client must not cut the body short.
			const echoed = await v3({
				method: "POST",
				endpoint: "/test/echo_json",
				headers: { "Content-Type": "application/json", "Content-Length": "3" },
				body: JSON.stringify({ user_id: "v3-user" }),
			});
			expect(echoed).toEqual({ body: { user_id: "v3-user" }, authorization: null });
		},
	);

	it("refuses with an outer 400 what it cannot open: tampered, truncated, unknown enc_type, another server's key", async () => {
		const plaintext = v4Plaintext({ method: "GET", endpoint: "/test/status" });
		const tampered = buildOnionRequest(serverPublic, plaintext, { cipher: "xchacha20" }).body;
		tampered[40] = (tampered[40] ?? 0) ^ 1;
		const truncated = buildOnionRequest(serverPublic, plaintext, {
			cipher: "aes-gcm",
		}).body.subarray(0, 30);
		const unknownCipher = buildOnionRequest(serverPublic, plaintext, {
			cipher: "aes-gcm",
			encType: "rot13",
		}).body;
		const sodium = await sodiumReady();
		const otherServer = sodium.crypto_scalarmult_base(sodium.randombytes_buf(32));
		const misaddressed = buildOnionRequest(otherServer, plaintext, { cipher: "xchacha20" }).body;
		for (const body of [tampered, truncated, unknownCipher, misaddressed, Buffer.alloc(2)]) {
			const response = await send(body);
			expect(response.statusCode).toBe(400);
			expect(response.json().error).toBe("invalid_request");
		}
	});
});

describe("the optional legacy X25519 key (keys.x25519_legacy_file)", () => {
	let testApp: TestApp;
	let legacyPublic: Uint8Array;
	let directory: string;

	beforeAll(async () => {
		const sodium = await sodiumReady();
		const legacySecret = sodium.randombytes_buf(32);
		legacyPublic = sodium.crypto_scalarmult_base(legacySecret);
		directory = await mkdtemp(join(tmpdir(), "tollgate-legacy-key-"));
		await writeFile(join(directory, "key_x25519"), legacySecret);
		testApp = await buildTestApp({ keys: { x25519_legacy_file: join(directory, "key_x25519") } });
		testApp.app.get("/test/status", { config: onionReachable }, async () => ({ status: "ok" }));
	});
	afterAll(async () => {
		await testApp.close();
		await rm(directory, { recursive: true, force: true });
	});

	it.each<ClientCipher>(["xchacha20", "aes-gcm"])(
		"opens requests encrypted to it, after the main key fails (%s)",
		async (cipher) => {
			const request = buildOnionRequest(
				legacyPublic,
				v4Plaintext({ method: "GET", endpoint: "/test/status" }),
				{ cipher },
			);
			const response = await testApp.app.inject({
				method: "POST",
				url: "/oxen/v4/lsrpc",
				payload: request.body,
			});
			expect(response.statusCode).toBe(200);
			expect(request.openReply(response.rawPayload).meta.code).toBe(200);
		},
	);
});

describe("upstream tests/test_onion_requests.py and pysogs test_onion_url_encoding", () => {
	let testApp: TestApp;
	let serverPublic: Uint8Array;

	beforeAll(async () => {
		serverPublic = await devServerOnionKey();
		testApp = await buildTestApp();
		// The upstream suites add these test-only routes to the app the same way.
		const testRoutes: FastifyPluginAsync = async (routes) => {
			routes.removeAllContentTypeParsers();
			routes.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => {
				done(null, body);
			});
			routes.post("/test_echo", { config: onionReachable }, async (request, reply) => {
				const type = request.headers["content-type"] ?? "";
				const body = request.body as Buffer;
				if (type === "application/json") {
					return reply
						.type("application/json")
						.send(Buffer.from(JSON.stringify({ json: JSON.parse(body.toString()) })));
				}
				return reply.type("text/plain; charset=utf-8").send(`not json (${type}): ${body}`);
			});
			routes.get<{ Params: { word: string } }>(
				"/url_test/:word",
				{ config: onionReachable },
				async (request) => ({
					word: request.params.word,
				}),
			);
		};
		await testApp.app.register(testRoutes);
	});
	afterAll(async () => {
		await testApp.close();
	});

	async function v4(meta: Record<string, unknown>, body?: Uint8Array) {
		const request = buildOnionRequest(serverPublic, v4Plaintext(meta, body), {
			cipher: "xchacha20",
		});
		const response = await testApp.app.inject({
			method: "POST",
			url: "/oxen/v4/lsrpc",
			payload: request.body,
		});
		expect(response.statusCode).toBe(200);
		return request.openReply(response.rawPayload);
	}

	it("test_v4_post_body: the inner content type and body reach the route unchanged", async () => {
		const text = await v4(
			{ method: "POST", endpoint: "/test_echo", headers: { "content-type": "text/plain" } },
			Buffer.from("test data"),
		);
		expect(text.meta).toEqual({
			code: 200,
			headers: { "content-type": "text/plain; charset=utf-8" },
		});
		expect(text.body.toString()).toBe("not json (text/plain): test data");

		const data = { abc: 123, def: [1, 2, 3], ghi: { "1": 2 } };
		const json = await v4(
			{ method: "POST", endpoint: "/test_echo", headers: { "content-type": "application/json" } },
			Buffer.from(JSON.stringify(data)),
		);
		expect(json.meta).toEqual({ code: 200, headers: { "content-type": "application/json" } });
		expect(JSON.parse(json.body.toString())).toEqual({ json: data });

		const other = await v4(
			{
				method: "POST",
				endpoint: "/test_echo",
				headers: { "content-type": "x-omg/all-your-base" },
			},
			Buffer.from(JSON.stringify(data)),
		);
		expect(other.body.toString()).toBe(`not json (x-omg/all-your-base): ${JSON.stringify(data)}`);
	});

	it("test_onion_url_encoding: a percent-encoded and a UTF-8 endpoint reach the same handler", async () => {
		const encoded = await v4({ method: "GET", endpoint: "/url_test/%F0%9F%8E%82" });
		const raw = await v4({ method: "GET", endpoint: "/url_test/🎂" });
		expect(encoded.meta.code).toBe(200);
		expect(JSON.parse(encoded.body.toString())).toEqual({ word: "🎂" });
		expect(raw.meta.code).toBe(200);
		expect(JSON.parse(raw.body.toString())).toEqual({ word: "🎂" });
	});
});

describe("which routes onion requests reach", () => {
	const APP_KEY = "onion-test-app-key-0123456789";
	let testApp: TestApp;
	let serverPublic: Uint8Array;

	beforeAll(async () => {
		serverPublic = await devServerOnionKey();
		testApp = await buildTestApp({
			entitlements: { enabled: true },
			sessions: { app_api_keys: [APP_KEY] },
		});
	});
	afterAll(async () => {
		await testApp.close();
	});

	async function innerAnswer(method: string, endpoint: string, body?: string) {
		const request = buildOnionRequest(
			serverPublic,
			v4Plaintext(
				{
					method,
					endpoint,
					headers: { "content-type": "application/json", authorization: `Bearer ${APP_KEY}` },
				},
				body === undefined ? undefined : Buffer.from(body),
			),
			{ cipher: "xchacha20" },
		);
		const response = await testApp.app.inject({
			method: "POST",
			url: "/oxen/v4/lsrpc",
			payload: request.body,
		});
		expect(response.statusCode).toBe(200);
		const { meta, body: reply } = request.openReply(response.rawPayload);
		return { code: meta.code, body: reply.toString() };
	}

	/** @see issue 12: /metrics, /docs, the sessions API and /dev/* were reachable through /oxen/v4/lsrpc. */
	it.each([
		["GET", "/metrics"],
		["GET", "/healthz"],
		["GET", "/openapi.json"],
		["GET", "/docs"],
		["POST", "/sessions"],
		["GET", "/sessions/AAAAAAAAAAAAAAAAAAAAAAAA"],
		["GET", "/edge/check"],
		["POST", "/dev/add_payment"],
	])(
		"%s %s answers the inner request 404, as a route that does not exist",
		async (method, path) => {
			const answer = await innerAnswer(method, path, method === "POST" ? "{}" : undefined);
			expect(answer.code).toBe(404);
			expect(JSON.parse(answer.body)).toMatchObject({ error: "not_found" });
		},
	);

	it("reaches the file server's and Session Pro's client routes", async () => {
		expect(await innerAnswer("GET", "/file/AAAA/info")).toEqual({
			code: 404,
			body: '{"status_code":404}',
		});
		const status = await innerAnswer("GET", "/status");
		expect(status.code).toBe(200);
		expect(JSON.parse(status.body)).toMatchObject({ status: "ok" });
		const revocations = await innerAnswer("POST", "/get_pro_revocations", '{"ticket":0}');
		expect(JSON.parse(revocations.body)).toMatchObject({ status: "ok" });
	});
});
