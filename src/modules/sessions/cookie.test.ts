import { describe, expect, it } from "vitest";
import { expiredCookie, findCookie, MAX_COOKIE_HEADER_BYTES, serializeCookie } from "./cookie.ts";

describe("reading the session cookie", () => {
	it("finds it among others, trimmed", () => {
		expect(findCookie("a=1; tollgate_session=v1.abc.def ;b=2", "tollgate_session")).toEqual({
			kind: "found",
			value: "v1.abc.def",
		});
		expect(findCookie(["a=1", "s=x"], "s")).toEqual({ kind: "found", value: "x" });
	});

	it("is absent without the header or the name", () => {
		expect(findCookie(undefined, "s")).toEqual({ kind: "absent" });
		expect(findCookie("a=1; ss=2", "s")).toEqual({ kind: "absent" });
	});

	it("refuses to guess: twice, too large or not printable ASCII is invalid", () => {
		expect(findCookie("s=1; s=2", "s").kind).toBe("invalid");
		expect(findCookie(`s=${"x".repeat(MAX_COOKIE_HEADER_BYTES)}`, "s").kind).toBe("invalid");
		expect(findCookie("s=caf\u00e9", "s").kind).toBe("invalid");
	});
});

describe("writing it", () => {
	it("is HttpOnly and SameSite=Lax, Secure when asked, with its lifetime", () => {
		expect(serializeCookie("s", "v", { maxAgeSeconds: 60, isSecure: true })).toBe(
			"s=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure",
		);
		expect(expiredCookie("s", false)).toBe("s=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax");
	});
});
