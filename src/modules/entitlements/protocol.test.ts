import { describe, expect, it } from "vitest";
import { DOMAIN, generateProofMessage, signedMessage } from "./protocol.ts";

const bytes = (...values: number[]) => new Uint8Array(values);

describe("signed messages (specs/session-pro.md §2.3)", () => {
	it("are the domain, then bytes verbatim and integers in decimal", () => {
		const message = generateProofMessage(bytes(1, 2), bytes(3), 1_762_473_600);
		expect(message).toEqual(
			Buffer.concat([
				Buffer.from("ProGenerateProof"),
				Buffer.from([1, 2, 3]),
				Buffer.from("1762473600"),
			]),
		);
	});

	it("put one NUL between adjacent variable-length fields only, so no two field lists collide", () => {
		expect(signedMessage(DOMAIN.getPaymentDetails, bytes(9), 12, 3, "x").toString("latin1")).toBe(
			"ProGetPayDetails\u0009" + "12\u00003\u0000x",
		);
		expect(signedMessage("D", 1, 23)).not.toEqual(signedMessage("D", 12, 3));
	});

	it("write integers canonically, without a fraction", () => {
		expect(signedMessage("D", 5.9).toString()).toBe("D5");
	});
});
