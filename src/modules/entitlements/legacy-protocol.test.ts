import { createPrivateKey, sign } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { googleAccountIdFor } from "./entitlement-service.ts";
import {
	addProPaymentDigest,
	generateProProofDigest,
	genIndexHash,
	getProDetailsDigest,
	LegacyProvider,
	proofDigest,
	setPaymentRefundRequestedDigest,
} from "./legacy-protocol.ts";

/** Computed by test/vectors/pro-legacy.py (Python hashlib + cryptography), not by this code. */
const vectors = JSON.parse(
	readFileSync(new URL("../../../test/vectors/pro-legacy.json", import.meta.url), "utf8"),
);

const fromHex = (text: string) => Buffer.from(text, "hex");
const toHex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

/** An Ed25519 key from its 32-byte seed (PKCS#8 with the fixed RFC 8410 prefix). */
function signerOf(seedHex: string) {
	const key = createPrivateKey({
		key: Buffer.concat([fromHex("302e020100300506032b657004220420"), fromHex(seedHex)]),
		format: "der",
		type: "pkcs8",
	});
	return (digest: Uint8Array) => toHex(sign(null, digest, key));
}

const master = fromHex(vectors.master_pubkey);
const rotating = fromHex(vectors.rotating_pubkey);
const signAsBackend = signerOf(vectors.backend_seed);
const signAsMaster = signerOf(vectors.master_seed);
const signAsRotating = signerOf(vectors.rotating_seed);

describe("legacy v0 digests and signatures (specs/session-pro.md §5.1, independent vectors)", () => {
	it("hashes the salted generation index", () => {
		for (const { gen_index, hash } of vectors.gen_index_hashes)
			expect(toHex(genIndexHash(gen_index, fromHex(vectors.gen_index_salt)))).toBe(hash);
	});

	it("digests a proof and signs it as the dev backend key", () => {
		const { proof } = vectors;
		const digest = proofDigest(
			fromHex(vectors.gen_index_hashes[0].hash),
			rotating,
			proof.expiry_unix_ts_ms,
		);
		expect(toHex(digest)).toBe(proof.hash);
		expect(signAsBackend(digest)).toBe(proof.sig);
	});

	it("digests add_pro_payment for Google and Apple payments", () => {
		const google = vectors.add_pro_payment_google;
		const googleDigest = addProPaymentDigest(master, rotating, {
			provider: LegacyProvider.googlePlay,
			googlePaymentToken: google.google_payment_token,
			googleOrderId: google.google_order_id,
		});
		expect(toHex(googleDigest)).toBe(google.hash);
		expect(signAsMaster(googleDigest)).toBe(google.master_sig);
		expect(signAsRotating(googleDigest)).toBe(google.rotating_sig);
		const apple = vectors.add_pro_payment_apple;
		expect(
			toHex(
				addProPaymentDigest(master, rotating, {
					provider: LegacyProvider.appStore,
					appleTxId: apple.apple_tx_id,
				}),
			),
		).toBe(apple.hash);
	});

	it("digests generate_pro_proof, get_pro_details and set_payment_refund_requested", () => {
		const generate = vectors.generate_pro_proof;
		const generateDigest = generateProProofDigest(master, rotating, generate.unix_ts_ms);
		expect(toHex(generateDigest)).toBe(generate.hash);
		expect(signAsMaster(generateDigest)).toBe(generate.master_sig);
		expect(signAsRotating(generateDigest)).toBe(generate.rotating_sig);
		const details = vectors.get_pro_details;
		const detailsDigest = getProDetailsDigest(master, details.unix_ts_ms, details.count);
		expect(toHex(detailsDigest)).toBe(details.hash);
		expect(signAsMaster(detailsDigest)).toBe(details.master_sig);
		const refund = vectors.set_payment_refund_requested_apple;
		expect(
			toHex(
				setPaymentRefundRequestedDigest(
					master,
					refund.unix_ts_ms,
					refund.refund_requested_unix_ts_ms,
					{ provider: LegacyProvider.appStore, appleTxId: refund.apple_tx_id },
				),
			),
		).toBe(refund.hash);
	});
});

describe("the Google obfuscated account id", () => {
	it("is hex(SHA-256(master key)), as the Android client sets it", () => {
		expect(googleAccountIdFor(master)).toBe(vectors.google_obfuscated_account_id);
	});
});
