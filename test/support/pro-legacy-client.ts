/**
 * A legacy v0 Session Pro client (libsession-util before July 2026), written from the protocol text
 * (specs/session-pro.md §4–§5): BLAKE2b-256 with a 16-byte personalisation from blake2b-wasm (the reference C
 * code; Tollgate's legacy protocol uses @noble), Ed25519 over the digest from libsodium. None of Tollgate's
 * code, so the server is checked against independent implementations.
 */
import blake2b from "blake2b-wasm";
import sodium from "libsodium-wrappers-sumo";
import type { KeyPair } from "./pro-client.ts";

await sodium.ready;
await blake2b.ready();

const text = (value: string) => new TextEncoder().encode(value);

function u64le(value: number): Uint8Array {
	const bytes = new Uint8Array(8);
	new DataView(bytes.buffer).setBigUint64(0, BigInt(value), true);
	return bytes;
}

function u32le(value: number): Uint8Array {
	const bytes = new Uint8Array(4);
	new DataView(bytes.buffer).setUint32(0, value, true);
	return bytes;
}

function concat(...parts: Uint8Array[]): Uint8Array {
	const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
	let offset = 0;
	for (const part of parts) {
		out.set(part, offset);
		offset += part.length;
	}
	return out;
}

function digest(personalisation: string, message: Uint8Array): Uint8Array {
	return blake2b(32, null, null, text(personalisation)).update(message).digest();
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const signWith = (key: KeyPair, message: Uint8Array) =>
	hex(sodium.crypto_sign_detached(message, sodium.crypto_sign_seed_keypair(key.seed).privateKey));

export function legacyGenerateProofRequest(master: KeyPair, rotating: KeyPair, unixTsMs: number) {
	const hash = digest(
		"ProGenerateProof",
		concat(Uint8Array.of(0), master.publicKey, rotating.publicKey, u64le(unixTsMs)),
	);
	return {
		version: 0,
		master_pkey: master.hex,
		rotating_pkey: rotating.hex,
		unix_ts_ms: unixTsMs,
		master_sig: signWith(master, hash),
		rotating_sig: signWith(rotating, hash),
	};
}

export type LegacyPaymentTx =
	| { provider: 1; google_payment_token: string; google_order_id: string }
	| { provider: 2; apple_tx_id: string };

/** The provider byte, then the store's ids with no separator, as they enter a signed digest. */
function paymentParts(paymentTx: LegacyPaymentTx): Uint8Array[] {
	return paymentTx.provider === 1
		? [Uint8Array.of(1), text(paymentTx.google_payment_token), text(paymentTx.google_order_id)]
		: [Uint8Array.of(2), text(paymentTx.apple_tx_id)];
}

export function legacyAddPaymentRequest(
	master: KeyPair,
	rotating: KeyPair,
	paymentTx: LegacyPaymentTx,
	extra: Record<string, unknown> = {},
) {
	const hash = digest(
		"ProAddPayment___",
		concat(Uint8Array.of(0), master.publicKey, rotating.publicKey, ...paymentParts(paymentTx)),
	);
	return {
		version: 0,
		master_pkey: master.hex,
		rotating_pkey: rotating.hex,
		master_sig: signWith(master, hash),
		rotating_sig: signWith(rotating, hash),
		payment_tx: paymentTx,
		...extra,
	};
}

export function legacySetRefundRequest(
	master: KeyPair,
	unixTsMs: number,
	refundRequestedUnixTsMs: number,
	paymentTx: LegacyPaymentTx,
) {
	const hash = digest(
		"ProSetRefundReq_",
		concat(
			Uint8Array.of(0),
			master.publicKey,
			u64le(unixTsMs),
			u64le(refundRequestedUnixTsMs),
			...paymentParts(paymentTx),
		),
	);
	return {
		version: 0,
		master_pkey: master.hex,
		master_sig: signWith(master, hash),
		unix_ts_ms: unixTsMs,
		refund_requested_unix_ts_ms: refundRequestedUnixTsMs,
		payment_tx: paymentTx,
	};
}

/** `signer` is the master key unless a test signs with another to be refused. */
export function legacyProDetailsRequest(
	master: KeyPair,
	unixTsMs: number,
	count: number,
	signer: KeyPair = master,
) {
	const hash = digest(
		"ProGetProDetReq_",
		concat(Uint8Array.of(0), master.publicKey, u64le(unixTsMs), u32le(count)),
	);
	return {
		version: 0,
		master_pkey: master.hex,
		master_sig: signWith(signer, hash),
		unix_ts_ms: unixTsMs,
		count,
	};
}

export interface LegacyProof {
	readonly gen_index_hash: string;
	readonly rotating_pkey: string;
	readonly expiry_unix_ts_ms: number;
	readonly sig: string;
}

/** What a legacy client checks of a proof before it shows the Pro badge: the backend's signature. */
export function legacyProofSignatureValid(backendPubkeyHex: string, proof: LegacyProof): boolean {
	const hash = digest(
		"ProProof________",
		concat(
			Uint8Array.of(0),
			Buffer.from(proof.gen_index_hash, "hex"),
			Buffer.from(proof.rotating_pkey, "hex"),
			u64le(proof.expiry_unix_ts_ms),
		),
	);
	return sodium.crypto_sign_verify_detached(
		Buffer.from(proof.sig, "hex"),
		hash,
		Buffer.from(backendPubkeyHex, "hex"),
	);
}

/** What the Python backend put in a proof to name its generation: BLAKE2b of the salted u64 index. */
export function legacyGenIndexHash(genIndex: number, salt: Uint8Array): string {
	return hex(blake2b(32, null, salt).update(u64le(genIndex)).digest());
}

/** A proof as the Python backend signs it with its key: what its clients already hold. */
export function legacyProofSignedBy(
	backendSeed: Uint8Array,
	genIndexHash: string,
	rotating: KeyPair,
	expiryUnixTsMs: number,
): LegacyProof {
	const hash = digest(
		"ProProof________",
		concat(
			Uint8Array.of(0),
			Buffer.from(genIndexHash, "hex"),
			rotating.publicKey,
			u64le(expiryUnixTsMs),
		),
	);
	const { privateKey } = sodium.crypto_sign_seed_keypair(backendSeed);
	return {
		gen_index_hash: genIndexHash,
		rotating_pkey: rotating.hex,
		expiry_unix_ts_ms: expiryUnixTsMs,
		sig: hex(sodium.crypto_sign_detached(hash, privateKey)),
	};
}
