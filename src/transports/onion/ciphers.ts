/**
 * Onion-request ciphers (§7.2). S = X25519(server secret, client ephemeral key), raw.
 * AES-256-GCM: key HMAC-SHA256(key "LOKI", S), box iv[12] ‖ ct ‖ tag[16] (node:crypto).
 * XChaCha20-Poly1305: key BLAKE2b-256(S ‖ A ‖ B), box nonce[24] ‖ ct ‖ tag[16] (@noble: node:crypto has no XChaCha).
 * The reply uses the same cipher and key with a fresh IV or nonce.
 */
import {
	createCipheriv,
	createDecipheriv,
	createHmac,
	diffieHellman,
	randomBytes,
} from "node:crypto";
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { blake2b } from "@noble/hashes/blake2.js";
import { publicKeyFromRaw, type X25519KeyPair } from "#lib/ed25519";
import type { OnionCipher } from "./envelope.ts";

const AES_IV_BYTES = 12;
const XCHACHA_NONCE_BYTES = 24;
const TAG_BYTES = 16;

export interface OnionSession {
	readonly plaintext: Uint8Array;
	/** Encrypts the reply for the same client, with the same cipher and key. */
	seal(plaintext: Uint8Array): Uint8Array;
}

function sharedSecret(server: X25519KeyPair, clientPublicKey: Uint8Array): Buffer | null {
	try {
		const publicKey = publicKeyFromRaw("X25519", clientPublicKey);
		return diffieHellman({ privateKey: server.privateKeyObject, publicKey });
	} catch {
		// A low-order client key makes OpenSSL refuse the derivation: the request cannot be for us.
		return null;
	}
}

export function onionKey(
	cipher: OnionCipher,
	secret: Uint8Array,
	clientPublicKey: Uint8Array,
	serverPublicKey: Uint8Array,
): Uint8Array {
	return cipher === "aes-gcm"
		? createHmac("sha256", "LOKI").update(secret).digest()
		: blake2b(Buffer.concat([secret, clientPublicKey, serverPublicKey]), { dkLen: 32 });
}

function open(cipher: OnionCipher, key: Uint8Array, box: Uint8Array): Uint8Array | null {
	try {
		if (cipher === "xchacha20") {
			if (box.byteLength < XCHACHA_NONCE_BYTES + TAG_BYTES) return null;
			return xchacha20poly1305(key, box.subarray(0, XCHACHA_NONCE_BYTES)).decrypt(
				box.subarray(XCHACHA_NONCE_BYTES),
			);
		}
		if (box.byteLength < AES_IV_BYTES + TAG_BYTES) return null;
		const decipher = createDecipheriv("aes-256-gcm", key, box.subarray(0, AES_IV_BYTES));
		decipher.setAuthTag(box.subarray(box.byteLength - TAG_BYTES));
		return Buffer.concat([
			decipher.update(box.subarray(AES_IV_BYTES, box.byteLength - TAG_BYTES)),
			decipher.final(),
		]);
	} catch {
		return null;
	}
}

export function seal(cipher: OnionCipher, key: Uint8Array, plaintext: Uint8Array): Uint8Array {
	if (cipher === "xchacha20") {
		const nonce = randomBytes(XCHACHA_NONCE_BYTES);
		return Buffer.concat([nonce, xchacha20poly1305(key, nonce).encrypt(plaintext)]);
	}
	const iv = randomBytes(AES_IV_BYTES);
	const encryptor = createCipheriv("aes-256-gcm", key, iv);
	const ciphertext = Buffer.concat([encryptor.update(plaintext), encryptor.final()]);
	return Buffer.concat([iv, ciphertext, encryptor.getAuthTag()]);
}

/** Tries each server key in turn (the Ed25519-derived one first, as the mainnet server does); null if none opens it. */
export function openOnionRequest(
	serverKeys: readonly X25519KeyPair[],
	cipher: OnionCipher,
	clientPublicKey: Uint8Array,
	box: Uint8Array,
): OnionSession | null {
	for (const server of serverKeys) {
		const secret = sharedSecret(server, clientPublicKey);
		if (secret === null) continue;
		const key = onionKey(cipher, secret, clientPublicKey, server.publicKey);
		const plaintext = open(cipher, key, box);
		if (plaintext !== null) return { plaintext, seal: (reply) => seal(cipher, key, reply) };
	}
	return null;
}
