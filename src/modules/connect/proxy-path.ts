/**
 * What the pass-through may ask a hub for: a path below /api/v4, read from the raw request target and
 * refused — never repaired — when it could mean anything other than what it spells (no SSRF). Refused:
 * anything not below the route, `.`/`..` or empty segments, backslashes, encoded `/`, `\`, `.`, `%` and
 * control characters, encoded letters or digits (RFC 3986 §2.3: they have a plain form), malformed
 * escapes, characters outside RFC 3986's pchar, and a fragment. The host is never read from the request.
 */

export type ProxyTarget =
	| { readonly kind: "allowed"; readonly path: string; readonly query: string }
	| { readonly kind: "refused"; readonly reason: string };

export interface ProxyRule {
	readonly method: string;
	readonly pathPrefix: string;
}

/** `"GET /api/v4/projects"` → a rule. */
export function parseProxyRule(text: string): ProxyRule {
	const [method = "", pathPrefix = ""] = text.split(" ");
	return { method, pathPrefix };
}

const PATH_CHARACTERS = /^[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*$/;
const QUERY_CHARACTERS = /^[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*$/;
/** In a path: `/ \ . %`, control characters, and unreserved characters (letters, digits, `-_~`). */
const REFUSED_PATH_ESCAPES =
	/%(2f|5c|2e|25|[01][0-9a-f]|7f|[46][1-9a-f]|[57][0-9a]|3[0-9]|2d|5f|7e)/i;
/** In a query, which cannot change where a call goes: control characters only. */
const REFUSED_QUERY_ESCAPES = /%([01][0-9a-f]|7f)/i;

function escapesProblem(text: string, refused: RegExp): string | null {
	for (let index = text.indexOf("%"); index !== -1; index = text.indexOf("%", index + 1)) {
		if (!/^%[0-9A-Fa-f]{2}$/.test(text.slice(index, index + 3))) return "a malformed %-escape";
	}
	const found = refused.exec(text);
	return found === null ? null : `the escape ${found[0]}`;
}

/** The hub path and query a raw request target names below `routeBase` (`<prefix>/proxy/<hub>`). */
export function proxyTarget(rawUrl: string, routeBase: string): ProxyTarget {
	if (!rawUrl.startsWith(`${routeBase}/`))
		return { kind: "refused", reason: "the path is not below the pass-through" };
	const queryAt = rawUrl.indexOf("?");
	const path = rawUrl.slice(routeBase.length, queryAt === -1 ? undefined : queryAt);
	const query = queryAt === -1 ? "" : rawUrl.slice(queryAt + 1);
	if (!path.startsWith("/api/v4/"))
		return { kind: "refused", reason: "only /api/v4/… is passed on" };
	if (!PATH_CHARACTERS.test(path))
		return { kind: "refused", reason: "the path holds a character it may not" };
	if (!QUERY_CHARACTERS.test(query))
		return { kind: "refused", reason: "the query holds a character it may not" };
	const segments = path.slice(1).split("/");
	if (segments.some((segment) => segment === "" || segment === "." || segment === ".."))
		return { kind: "refused", reason: "the path has an empty, . or .. segment" };
	const pathProblem = escapesProblem(path, REFUSED_PATH_ESCAPES);
	if (pathProblem !== null) return { kind: "refused", reason: `the path holds ${pathProblem}` };
	const queryProblem = escapesProblem(query, REFUSED_QUERY_ESCAPES);
	if (queryProblem !== null) return { kind: "refused", reason: `the query holds ${queryProblem}` };
	return { kind: "allowed", path, query };
}

/** Whether a rule lets `method` through to `path` (its prefix matched on whole segments). */
export function isAllowedByRules(
	rules: readonly ProxyRule[],
	method: string,
	path: string,
): boolean {
	return rules.some(
		(rule) =>
			rule.method === method &&
			(path === rule.pathPrefix || path.startsWith(`${rule.pathPrefix}/`)),
	);
}
