/** Vectors from an independent implementation (@noble/curves), not from the code under test. */

import { sign, verify } from "node:crypto";
import { ed25519 } from "@noble/curves/ed25519.js";
import { describe, expect, it } from "vitest";
import { ed25519FromSeed, x25519FromEd25519Seed } from "./ed25519.ts";

const DEV_SEED = new Uint8Array(32).fill(0xcd);
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

describe("Ed25519 and the X25519 key Session derives from it", () => {
	it("derives the Session Pro dev public key from the seed 32 × 0xCD", () => {
		expect(hex(ed25519FromSeed(DEV_SEED).publicKey)).toBe(
			"fc947730f49eb01427a66e050733294d9e520e545c7a27125a780634e0860a27",
		);
	});

	it("derives the X25519 public key that clients compute from the Ed25519 public key", () => {
		const expected = ed25519.utils.toMontgomery(ed25519.getPublicKey(DEV_SEED));
		expect(hex(x25519FromEd25519Seed(DEV_SEED).publicKey)).toBe(hex(expected));
		expect(hex(expected)).toBe("920b81e9bf1a06e70814432668c61487d6fdbe13faaee3b09ebc56223061f140");
	});

	it("derives the X25519 secret as libsodium does (clamped SHA-512 of the seed)", () => {
		const seed = new Uint8Array(32).fill(0x11);
		expect(hex(x25519FromEd25519Seed(seed).privateKey)).toBe(
			hex(ed25519.utils.toMontgomerySecret(seed)),
		);
	});

	it("signs so that an independent implementation verifies, and verifies what it signs", () => {
		const keyPair = ed25519FromSeed(DEV_SEED);
		const message = Buffer.from("ProProof_v0_____");
		const signature = sign(null, message, keyPair.privateKeyObject);
		expect(ed25519.verify(signature, message, keyPair.publicKey)).toBe(true);
		expect(verify(null, message, keyPair.publicKeyObject, ed25519.sign(message, DEV_SEED))).toBe(
			true,
		);
	});

	it("refuses a seed of the wrong length", () => {
		expect(() => ed25519FromSeed(new Uint8Array(31))).toThrow(RangeError);
	});
});
