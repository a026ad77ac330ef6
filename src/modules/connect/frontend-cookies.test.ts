/** The frontend's cookie values as Python wrote them; expected values computed with CPython 3.11. */
import { describe, expect, it } from "vitest";
import { cookieFrom, FrontendCookies, pythonQuote, pythonTimestamp } from "./frontend-cookies.ts";

describe("frontend cookies", () => {
	it("quotes a user name as urllib.parse.quote does", () => {
		const vectors: [string, string][] = [
			["Alice Müller", "Alice%20M%C3%BCller"],
			["O'Brien (lab)", "O%27Brien%20%28lab%29"],
			["a/b*c!", "a/b%2Ac%21"],
			["日本", "%E6%97%A5%E6%9C%AC"],
			["~user_name-1.2", "~user_name-1.2"],
			["semi;colon,comma=eq", "semi%3Bcolon%2Ccomma%3Deq"],
		];
		for (const [name, quoted] of vectors) expect(pythonQuote(name)).toBe(quoted);
	});

	it("writes the timer as str(time.time()) does, never as a bare integer", () => {
		expect(pythonTimestamp(1_720_000_000_000)).toBe("1720000000.0");
		expect(pythonTimestamp(1_720_000_000_123)).toBe("1720000000.123");
	});

	it("names the user 'user' when the hub gave no name, and clears the older data cookie at /", () => {
		const cookies = new FrontendCookies({
			dataPath: "/arcmanager/api",
			loginPath: "/arcmanager/api/v1/auth",
			isSecure: true,
		});
		const lines = cookies.loggedIn("abc.def", null, 1_720_000_000_000);
		expect(lines).toContain("username=user; Path=/; SameSite=Strict; Secure");
		expect(lines.filter((line) => line.startsWith("data="))).toEqual([
			"data=abc.def; HttpOnly; Path=/arcmanager/api; SameSite=Strict; Secure",
			'data=""; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; SameSite=Strict; Secure',
		]);
	});

	it("reads one cookie value, and none when it comes twice or is not printable", () => {
		expect(cookieFrom("a=1; data=x.y; b=2", "data")).toBe("x.y");
		expect(cookieFrom("data=x; data=y", "data")).toBeNull();
		expect(cookieFrom("data=\u00e9", "data")).toBeNull();
		expect(cookieFrom(undefined, "data")).toBeNull();
	});
});
