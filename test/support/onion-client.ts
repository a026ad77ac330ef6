/**
 * A Session client's side of onion requests v4, written from the protocol text (§7) with libsodium and
 * @noble — none of Tollgate's code — so the server is checked against an independent implementation.
 */
import { gcm } from "@noble/ciphers/aes.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import sodium from "libsodium-wrappers-sumo";

export type ClientCipher = "xchacha20" | "aes-gcm";

export async function sodiumReady(): Promise<typeof sodium> {
	await sodium.ready;
	return sodium;
}

/** The X25519 key a client encrypts to: the Montgomery form of the server's published Ed25519 key. */
export async function serverOnionKey(ed25519PublicKey: Uint8Array): Promise<Uint8Array> {
	return (await sodiumReady()).crypto_sign_ed25519_pk_to_curve25519(ed25519PublicKey);
}

/** The dev key's (seed 32 × 0xCD) onion key, as clients of a dev-mode server compute it. */
export async function devServerOnionKey(): Promise<Uint8Array> {
	const sodium = await sodiumReady();
	return serverOnionKey(sodium.crypto_sign_seed_keypair(new Uint8Array(32).fill(0xcd)).publicKey);
}

export interface ClientRequest {
	readonly body: Buffer;
	/** The reply's plaintext (v3 replies are JSON or raw bytes). */
	decrypt(reply: Uint8Array): Uint8Array;
	/** The reply as a v4 bencoded list. */
	openReply(reply: Uint8Array): {
		meta: { code: number; headers: Record<string, string> };
		body: Buffer;
	};
}

function keyFor(
	cipher: ClientCipher,
	secret: Uint8Array,
	clientPublic: Uint8Array,
	serverPublic: Uint8Array,
): Uint8Array {
	return cipher === "aes-gcm"
		? hmac(sha256, new TextEncoder().encode("LOKI"), secret)
		: sodium.crypto_generichash(
				32,
				new Uint8Array([...secret, ...clientPublic, ...serverPublic]),
				null,
			);
}

function parseReply(plaintext: Uint8Array) {
	const text = Buffer.from(plaintext);
	if (text[0] !== 0x6c || text[text.length - 1] !== 0x65)
		throw new Error("reply is not a bencoded list");
	const metaColon = text.indexOf(0x3a, 1);
	const metaLength = Number(text.subarray(1, metaColon).toString());
	const meta = JSON.parse(text.subarray(metaColon + 1, metaColon + 1 + metaLength).toString());
	const bodyStart = metaColon + 1 + metaLength;
	const bodyColon = text.indexOf(0x3a, bodyStart);
	const bodyLength = Number(text.subarray(bodyStart, bodyColon).toString());
	return { meta, body: text.subarray(bodyColon + 1, bodyColon + 1 + bodyLength) };
}

export function v4Plaintext(meta: Record<string, unknown>, body?: Uint8Array): Buffer {
	const metaBytes = Buffer.from(JSON.stringify(meta));
	const parts = [Buffer.from(`l${metaBytes.length}:`), metaBytes];
	if (body !== undefined) parts.push(Buffer.from(`${body.length}:`), Buffer.from(body));
	parts.push(Buffer.from("e"));
	return Buffer.concat(parts);
}

export function buildOnionRequest(
	serverX25519Public: Uint8Array,
	plaintext: Uint8Array,
	options: { cipher: ClientCipher; encType?: string | null; keyEncoding?: "hex" | "base64" },
): ClientRequest {
	const clientSecret = sodium.randombytes_buf(32);
	const clientPublic = sodium.crypto_scalarmult_base(clientSecret);
	const secret = sodium.crypto_scalarmult(clientSecret, serverX25519Public);
	const key = keyFor(options.cipher, secret, clientPublic, serverX25519Public);
	let box: Uint8Array;
	if (options.cipher === "xchacha20") {
		const nonce = sodium.randombytes_buf(24);
		box = new Uint8Array([
			...nonce,
			...sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, null, null, nonce, key),
		]);
	} else {
		const iv = sodium.randombytes_buf(12);
		box = new Uint8Array([...iv, ...gcm(key, iv).encrypt(plaintext)]);
	}
	const encType =
		options.encType === undefined
			? options.cipher === "xchacha20"
				? "xchacha20"
				: undefined
			: options.encType;
	const metadata = {
		host: "files.example.org",
		target: "/oxen/v4/lsrpc",
		method: "POST",
		protocol: "http",
		port: 80,
		ephemeral_key:
			options.keyEncoding === "base64"
				? Buffer.from(clientPublic).toString("base64")
				: Buffer.from(clientPublic).toString("hex"),
		...(encType === undefined || encType === null ? {} : { enc_type: encType }),
	};
	const decrypt = (reply: Uint8Array): Uint8Array =>
		options.cipher === "xchacha20"
			? sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
					null,
					reply.subarray(24),
					null,
					reply.subarray(0, 24),
					key,
				)
			: gcm(key, reply.subarray(0, 12)).decrypt(reply.subarray(12));
	const prefix = Buffer.alloc(4);
	prefix.writeUInt32LE(box.length);
	return {
		body: Buffer.concat([prefix, box, Buffer.from(JSON.stringify(metadata))]),
		decrypt,
		openReply: (reply) => parseReply(decrypt(reply)),
	};
}

/** What can answer a request in process: a Fastify app's `inject`. */
interface InjectsRequests {
	inject(request: {
		method: "POST";
		url: string;
		payload: Buffer;
	}): Promise<{ rawPayload: Buffer }>;
}

/**
 * POSTs a JSON body to `endpoint` through an onion request v4 to an in-process app, as a Session client
 * does, and opens the reply.
 */
export async function postJsonThroughOnion(
	app: InjectsRequests,
	serverX25519Public: Uint8Array,
	endpoint: string,
	json: unknown,
	cipher: ClientCipher = "xchacha20",
): Promise<{ meta: Record<string, unknown>; body: Buffer }> {
	const request = buildOnionRequest(
		serverX25519Public,
		v4Plaintext(
			{ method: "POST", endpoint, headers: { "content-type": "application/json" } },
			Buffer.from(JSON.stringify(json)),
		),
		{ cipher },
	);
	const response = await app.inject({
		method: "POST",
		url: "/oxen/v4/lsrpc",
		payload: request.body,
	});
	const { meta, body } = request.openReply(response.rawPayload);
	return { meta: meta as Record<string, unknown>, body: Buffer.from(body) };
}
