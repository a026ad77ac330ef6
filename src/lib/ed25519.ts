/**
 * Ed25519 keys from a 32-byte seed with node:crypto (about 20× faster than pure-JS), and the X25519
 * key Session derives from them: libsodium crypto_sign_ed25519_sk_to_curve25519 = clamp(SHA-512(seed)[0..32]).
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject, verify } from "node:crypto";

const ED25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const X25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");
export const SEED_BYTES = 32;

export interface Ed25519KeyPair {
	readonly seed: Uint8Array;
	readonly publicKey: Uint8Array;
	readonly privateKeyObject: KeyObject;
	readonly publicKeyObject: KeyObject;
}

export interface X25519KeyPair {
	/** Clamped scalar, as libsodium returns it. */
	readonly privateKey: Uint8Array;
	readonly publicKey: Uint8Array;
	readonly privateKeyObject: KeyObject;
}

function rawPublicKey(publicKeyObject: KeyObject): Uint8Array {
	const der = publicKeyObject.export({ format: "der", type: "spki" });
	return new Uint8Array(der.subarray(der.length - 32));
}

function assertSeed(seed: Uint8Array): void {
	if (seed.length !== SEED_BYTES)
		throw new RangeError(`an Ed25519 seed has ${SEED_BYTES} bytes, got ${seed.length}`);
}

export function ed25519FromSeed(seed: Uint8Array): Ed25519KeyPair {
	assertSeed(seed);
	const privateKeyObject = createPrivateKey({
		key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]),
		format: "der",
		type: "pkcs8",
	});
	const publicKeyObject = createPublicKey(privateKeyObject);
	return {
		seed: Uint8Array.from(seed),
		publicKey: rawPublicKey(publicKeyObject),
		privateKeyObject,
		publicKeyObject,
	};
}

export function x25519FromEd25519Seed(seed: Uint8Array): X25519KeyPair {
	assertSeed(seed);
	const scalar = new Uint8Array(createHash("sha512").update(seed).digest().subarray(0, 32));
	scalar[0] = (scalar[0] ?? 0) & 248;
	scalar[31] = ((scalar[31] ?? 0) & 127) | 64;
	return x25519FromSecret(scalar);
}

/** An X25519 key pair from its 32-byte secret (X25519 clamps it when used). */
export function x25519FromSecret(secret: Uint8Array): X25519KeyPair {
	if (secret.length !== 32)
		throw new RangeError(`an X25519 secret has 32 bytes, got ${secret.length}`);
	const privateKeyObject = createPrivateKey({
		key: Buffer.concat([X25519_PKCS8_PREFIX, secret]),
		format: "der",
		type: "pkcs8",
	});
	return {
		privateKey: Uint8Array.from(secret),
		publicKey: rawPublicKey(createPublicKey(privateKeyObject)),
		privateKeyObject,
	};
}

/**
 * A public key object from 32 raw bytes. Through JWK, not SPKI DER: OpenSSL 3's DER decoder costs about
 * 90 µs a key here against 6 µs, and signed requests import one or two client keys each.
 * @throws when the bytes are no valid key of the curve.
 */
export function publicKeyFromRaw(curve: "Ed25519" | "X25519", raw: Uint8Array): KeyObject {
	return createPublicKey({
		key: { kty: "OKP", crv: curve, x: Buffer.from(raw).toString("base64url") },
		format: "jwk",
	});
}

/** Whether `signature` is `publicKey`'s Ed25519 signature of `message`; false for a malformed key too. */
export function verifiesEd25519(
	publicKey: Uint8Array,
	message: Uint8Array,
	signature: Uint8Array,
): boolean {
	try {
		return verify(null, message, publicKeyFromRaw("Ed25519", publicKey), signature);
	} catch {
		return false;
	}
}
