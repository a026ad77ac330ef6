/** The pass-through's path rules: what reaches the hub, and what is refused without being repaired. */
import { describe, expect, it } from "vitest";
import { isAllowedByRules, parseProxyRule, proxyTarget } from "./proxy-path.ts";

const BASE = "/arcmanager/api/v1/proxy/tuebingen";

describe("proxyTarget", () => {
	it("passes a plain /api/v4 path and its query through as written", () => {
		expect(
			proxyTarget(`${BASE}/api/v4/projects/12/repository/tree?ref=main&path=a%2Fb`, BASE),
		).toEqual({
			kind: "allowed",
			path: "/api/v4/projects/12/repository/tree",
			query: "ref=main&path=a%2Fb",
		});
		expect(proxyTarget(`${BASE}/api/v4/users/a%40b`, BASE).kind).toBe("allowed");
	});

	it("refuses every path that could mean something other than it spells", () => {
		for (const rest of [
			"/api/v4/../oauth/token",
			"/api/v4/./user",
			"/api/v4//user",
			"/api/v4/projects/%2e%2e/x",
			"/api/v4/projects%2F1",
			"/api/v4/projects/%5c",
			"/api/v4/projects/%25",
			"/api/v4/%75ser",
			"/api/v4/projects/%0a",
			"/api/v4/projects/%g0",
			"/api/v4/projects/\\",
			"/api/v4/projects/ x",
			"/oauth/token",
			"/api/v4",
		])
			expect(proxyTarget(`${BASE}${rest}`, BASE).kind, rest).toBe("refused");
		expect(proxyTarget("http://evil.example/api/v4/user", BASE).kind).toBe("refused");
		expect(proxyTarget(`${BASE}/api/v4/user?a=%0d%0a`, BASE).kind).toBe("refused");
		expect(proxyTarget(`${BASE}/api/v4/user#x`, BASE).kind).toBe("refused");
	});
});

describe("isAllowedByRules", () => {
	const rules = ["GET /api/v4/user", "GET /api/v4/projects"].map(parseProxyRule);

	it("matches a prefix on whole segments and the method exactly", () => {
		expect(isAllowedByRules(rules, "GET", "/api/v4/user")).toBe(true);
		expect(isAllowedByRules(rules, "GET", "/api/v4/projects/1/members")).toBe(true);
		expect(isAllowedByRules(rules, "GET", "/api/v4/users")).toBe(false);
		expect(isAllowedByRules(rules, "POST", "/api/v4/user")).toBe(false);
	});
});
