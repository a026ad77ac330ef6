import { describe, expect, it } from "vitest";
import { paymentCursor } from "./payment-cursor.ts";

const seed = new Uint8Array(32).fill(7);
const alice = new Uint8Array(32).fill(1);
const bob = new Uint8Array(32).fill(2);

describe("payment cursors", () => {
	it("give back the id they were sealed with, for the account they were sealed for", () => {
		const cursors = paymentCursor(seed);
		expect(cursors.open(cursors.seal(42, alice), alice)).toBe(42);
	});

	it("reveal nothing: the same id seals differently every time", () => {
		const cursors = paymentCursor(seed);
		expect(cursors.seal(42, alice)).not.toBe(cursors.seal(42, alice));
	});

	it("open for no other account, no other server key, and nothing tampered or malformed", () => {
		const cursor = paymentCursor(seed).seal(42, alice);
		expect(paymentCursor(seed).open(cursor, bob)).toBeNull();
		expect(paymentCursor(new Uint8Array(32).fill(8)).open(cursor, alice)).toBeNull();
		const tampered = `${cursor.slice(0, -1)}${cursor.endsWith("0") ? "1" : "0"}`;
		expect(paymentCursor(seed).open(tampered, alice)).toBeNull();
		expect(paymentCursor(seed).open("zz", alice)).toBeNull();
	});
});
