/**
 * The legacy v0 Session Pro protocol, as Session builds before July 2026 speak it (session-pro-backend
 * `main`; specs/session-pro.md §4–§5): every signature is Ed25519 over a BLAKE2b-256 digest with a 16-byte
 * personalisation, integers little-endian, strings without length or separator; times in milliseconds;
 * the envelope `{"status":0,"result":…}` / `{"status":N,"errors":[…]}`, always HTTP 200.
 */
import { blake2b } from "@noble/hashes/blake2.js";

export const LEGACY_VERSION = 0;

/** The envelope's status codes (upstream base.py). */
export const LegacyStatus = {
	success: 0,
	error: 1,
	parseError: 2,
	alreadyRedeemed: 100,
	unknownPayment: 101,
} as const;

export type LegacyStatusCode = (typeof LegacyStatus)[keyof typeof LegacyStatus];

/** Integer enums of the legacy wire and database. */
export const LegacyProvider = { googlePlay: 1, appStore: 2, rangeproof: 3 } as const;
export const LegacyPaymentStatus = { unredeemed: 1, redeemed: 2, expired: 3, revoked: 4 } as const;
export const LegacyPlan = { oneMonth: 1, threeMonths: 2, twelveMonths: 3 } as const;
export const LegacyUserStatus = { neverBeenPro: 0, active: 1, expired: 2 } as const;

/** A refusal in the legacy envelope: HTTP 200 with a non-zero status and English messages. */
export class LegacyProtocolError extends Error {
	readonly status: Exclude<LegacyStatusCode, 0>;

	constructor(status: Exclude<LegacyStatusCode, 0>, message: string) {
		super(message);
		this.name = "LegacyProtocolError";
		this.status = status;
	}

	envelope(): { status: number; errors: string[] } {
		return { status: this.status, errors: [this.message] };
	}
}

export function legacySuccess(result: Record<string, unknown>): {
	status: 0;
	result: Record<string, unknown>;
} {
	return { status: LegacyStatus.success, result };
}

const PERSONALISATION = {
	proof: "ProProof________",
	addPayment: "ProAddPayment___",
	generateProof: "ProGenerateProof",
	getProDetails: "ProGetProDetReq_",
	setRefundRequested: "ProSetRefundReq_",
} as const;

const ZERO_PERSONALISATION = new Uint8Array(16);

function u8(value: number): Uint8Array {
	return Uint8Array.of(value);
}

function u32le(value: number): Uint8Array {
	const bytes = Buffer.alloc(4);
	bytes.writeUInt32LE(value);
	return bytes;
}

function u64le(value: number | bigint): Uint8Array {
	const bytes = Buffer.alloc(8);
	bytes.writeBigUInt64LE(BigInt(value));
	return bytes;
}

function digest(personalisation: string, parts: readonly (Uint8Array | string)[]): Uint8Array {
	const hash = blake2b.create({
		dkLen: 32,
		personalization: Buffer.from(personalisation, "ascii"),
	});
	for (const part of parts)
		hash.update(typeof part === "string" ? Buffer.from(part, "utf8") : part);
	return hash.digest();
}

/** What identifies a proof's generation on the wire: BLAKE2b of the salted u64 index (no personalisation). */
export function genIndexHash(genIndex: number | bigint, salt: Uint8Array): Uint8Array {
	return blake2b(u64le(genIndex), { dkLen: 32, salt, personalization: ZERO_PERSONALISATION });
}

export const proofDigest = (
	genIndexHashBytes: Uint8Array,
	rotatingPkey: Uint8Array,
	expiryUnixTsMs: number,
) =>
	digest(PERSONALISATION.proof, [
		u8(LEGACY_VERSION),
		genIndexHashBytes,
		rotatingPkey,
		u64le(expiryUnixTsMs),
	]);

/** The store payment a legacy request names; its fields enter the signed digest in this order. */
export type LegacyPaymentTx =
	| {
			readonly provider: typeof LegacyProvider.googlePlay;
			readonly googlePaymentToken: string;
			readonly googleOrderId: string;
	  }
	| { readonly provider: typeof LegacyProvider.appStore; readonly appleTxId: string };

function paymentTxParts(payment: LegacyPaymentTx): (Uint8Array | string)[] {
	return payment.provider === LegacyProvider.googlePlay
		? [u8(payment.provider), payment.googlePaymentToken, payment.googleOrderId]
		: [u8(payment.provider), payment.appleTxId];
}

export const addProPaymentDigest = (
	masterPkey: Uint8Array,
	rotatingPkey: Uint8Array,
	payment: LegacyPaymentTx,
) =>
	digest(PERSONALISATION.addPayment, [
		u8(LEGACY_VERSION),
		masterPkey,
		rotatingPkey,
		...paymentTxParts(payment),
	]);

export const generateProProofDigest = (
	masterPkey: Uint8Array,
	rotatingPkey: Uint8Array,
	unixTsMs: number,
) =>
	digest(PERSONALISATION.generateProof, [
		u8(LEGACY_VERSION),
		masterPkey,
		rotatingPkey,
		u64le(unixTsMs),
	]);

export const getProDetailsDigest = (masterPkey: Uint8Array, unixTsMs: number, count: number) =>
	digest(PERSONALISATION.getProDetails, [
		u8(LEGACY_VERSION),
		masterPkey,
		u64le(unixTsMs),
		u32le(count),
	]);

export const setPaymentRefundRequestedDigest = (
	masterPkey: Uint8Array,
	unixTsMs: number,
	refundRequestedUnixTsMs: number,
	payment: LegacyPaymentTx,
) =>
	digest(PERSONALISATION.setRefundRequested, [
		u8(LEGACY_VERSION),
		masterPkey,
		u64le(unixTsMs),
		u64le(refundRequestedUnixTsMs),
		...paymentTxParts(payment),
	]);
