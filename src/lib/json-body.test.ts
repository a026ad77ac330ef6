import { describe, expect, it } from "vitest";
import { JsonBodyError, MAX_JSON_DEPTH, nestsDeeperThan, parseJsonBody } from "./json-body.ts";

const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;

describe("parseJsonBody", () => {
	it("parses JSON nested exactly as deep as the limit", () => {
		expect(parseJsonBody(nested(MAX_JSON_DEPTH))).toBeInstanceOf(Array);
		expect(parseJsonBody('{"a":{"b":[1,2,{"c":null}]}}')).toEqual({
			a: { b: [1, 2, { c: null }] },
		});
	});

	it("refuses one level more, naming the limit, before parsing", () => {
		expect(() => parseJsonBody(nested(MAX_JSON_DEPTH + 1))).toThrow(
			new JsonBodyError(`JSON nests deeper than ${MAX_JSON_DEPTH} levels`),
		);
		// The fuzzer's 10 KB session data: 5,000 levels deep.
		expect(() => parseJsonBody(`{"data":${nested(5_000)}}`)).toThrow(/deeper than 64/);
	});

	it("does not count brackets inside strings, escaped quotes included", () => {
		const text = JSON.stringify({ text: `say \\"${"[".repeat(500)}\\" "{{{{` });
		expect(nestsDeeperThan(text, 2)).toBe(false);
		expect(parseJsonBody(text)).toEqual(JSON.parse(text));
		expect(nestsDeeperThan(`["\\\\", [[]]]`, 2)).toBe(true);
	});

	it("reports text that is not JSON as a JsonBodyError", () => {
		expect(() => parseJsonBody("{nope")).toThrow(JsonBodyError);
		expect(() => parseJsonBody('"unterminated')).toThrow(JsonBodyError);
	});
});
