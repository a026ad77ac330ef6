import { describe, expect, it } from "vitest";
import { parseRange, readTtl } from "./request-headers.ts";

describe("X-FS-TTL", () => {
	it("is the default when absent, the number when a whole number up to the maximum", () => {
		expect(readTtl(undefined, 100)).toBeUndefined();
		expect(readTtl("0", 100)).toBe(0);
		expect(readTtl(" 100 ", 100)).toBe(100);
	});

	it.each(["101", "-1", "1.5", "1e2", "", "ten", "0x10"])("%j is invalid", (header) => {
		expect(readTtl(header, 100)).toBe("invalid");
	});

	it("is invalid when sent twice", () => {
		expect(readTtl(["1", "2"], 100)).toBe("invalid");
	});
});

describe("Range", () => {
	it("reads one range, inclusive, clamped to the file (RFC 9110 §14.1.2)", () => {
		expect(parseRange(undefined, 10)).toBeNull();
		expect(parseRange("bytes=0-0", 10)).toEqual({ start: 0, end: 0 });
		expect(parseRange("bytes=2-", 10)).toEqual({ start: 2, end: 9 });
		expect(parseRange("bytes=-3", 10)).toEqual({ start: 7, end: 9 });
		expect(parseRange("bytes=5-99", 10)).toEqual({ start: 5, end: 9 });
		expect(parseRange("bytes=-99", 10)).toEqual({ start: 0, end: 9 });
	});

	it.each(["bytes=10-", "bytes=5-4", "bytes=-", "items=0-1", "bytes=0-1,3-4", "bytes=a-b"])(
		"%s is unsatisfiable for a 10-byte file",
		(header) => {
			expect(parseRange(header, 10)).toBe("unsatisfiable");
		},
	);
});
