import { describe, expect, it } from "vitest";
import { randomCompatId } from "./file-service.ts";

describe("numeric compat ids (the original's BACKWARDS_COMPAT_IDS)", () => {
	it("fit in a double: below 2^53, decimal", () => {
		for (let draw = 0; draw < 200; draw += 1) {
			const id = randomCompatId("");
			expect(id).toMatch(/^\d+$/);
			expect(BigInt(id) < 2n ** 53n).toBe(true);
		}
	});

	it("start with the fixed bits, so two servers' ids never meet", () => {
		for (const bits of ["1", "101", "0110"]) {
			for (let draw = 0; draw < 50; draw += 1) {
				const binary = BigInt(randomCompatId(bits)).toString(2).padStart(53, "0");
				expect(binary.startsWith(bits)).toBe(true);
			}
		}
	});
});
