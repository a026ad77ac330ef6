/**
 * A Session Pro client written from the protocol text (upstream docs/pro-wire-protocol.md, libsession-util
 * pro_backend) with @noble — none of Tollgate's code: master key from the account seed, signed requests,
 * and proof verification against the backend's published key.
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { blake2b } from "@noble/hashes/blake2.js";

const text = (value: string) => new TextEncoder().encode(value);
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const concat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

export interface KeyPair {
	readonly seed: Uint8Array;
	readonly publicKey: Uint8Array;
	readonly hex: string;
}

export function keyPair(seed: Uint8Array): KeyPair {
	const publicKey = ed25519.getPublicKey(seed);
	return { seed, publicKey, hex: hex(publicKey) };
}

/** libsession: the Pro master key is Ed25519 from BLAKE2b-256(account seed, key "SessionProRandom"). */
export function masterKeyFromAccountSeed(accountSeed: Uint8Array): KeyPair {
	return keyPair(blake2b(accountSeed, { dkLen: 32, key: text("SessionProRandom") }));
}

export function randomKeyPair(): KeyPair {
	return keyPair(ed25519.utils.randomSecretKey());
}

const decimal = (value: number) => text(String(value));

export function generateProofRequest(master: KeyPair, rotating: KeyPair, ts: number) {
	const message = concat(
		text("ProGenerateProof"),
		master.publicKey,
		rotating.publicKey,
		decimal(ts),
	);
	return {
		master_pkey: master.hex,
		rotating_pkey: rotating.hex,
		ts,
		master_sig: hex(ed25519.sign(message, master.seed)),
		rotating_sig: hex(ed25519.sign(message, rotating.seed)),
	};
}

export function proStatusRequest(master: KeyPair, ts: number) {
	const message = concat(text("ProGetProStatus_"), master.publicKey, decimal(ts));
	return { master_pkey: master.hex, master_sig: hex(ed25519.sign(message, master.seed)), ts };
}

export function paymentDetailsRequest(master: KeyPair, ts: number, limit: number, before: string) {
	const message = concat(
		text("ProGetPayDetails"),
		master.publicKey,
		decimal(ts),
		new Uint8Array([0]),
		decimal(limit),
		new Uint8Array([0]),
		text(before),
	);
	return {
		master_pkey: master.hex,
		master_sig: hex(ed25519.sign(message, master.seed)),
		ts,
		limit,
		before,
	};
}

/** What a client checks before using a proof: the backend's signature over tag ‖ rotating key ‖ expiry. */
export function proofSignatureValid(
	backendPublicKey: string,
	proof: { revocation_tag: string; rotating_pkey: string; expiry_ts: number; sig: string },
): boolean {
	const message = concat(
		text("ProProof_v0_____"),
		Buffer.from(proof.revocation_tag, "hex"),
		Buffer.from(proof.rotating_pkey, "hex"),
		decimal(proof.expiry_ts),
	);
	return ed25519.verify(
		Buffer.from(proof.sig, "hex"),
		message,
		Buffer.from(backendPublicKey, "hex"),
	);
}
