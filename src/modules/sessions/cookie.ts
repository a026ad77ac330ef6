/**
 * Reading the session cookie strictly (one value, printable ASCII, bounded size: anything else is no
 * session, never a guess) and writing it HttpOnly, Secure and SameSite=Lax.
 */
export const MAX_COOKIE_HEADER_BYTES = 4_096;

export type CookieLookup =
	| { readonly kind: "absent" }
	| { readonly kind: "invalid"; readonly reason: string }
	| { readonly kind: "found"; readonly value: string };

const PRINTABLE_ASCII = /^[\x21-\x7e]*$/;

export function findCookie(header: string | string[] | undefined, name: string): CookieLookup {
	if (header === undefined) return { kind: "absent" };
	const text = Array.isArray(header) ? header.join("; ") : header;
	if (text.length > MAX_COOKIE_HEADER_BYTES)
		return { kind: "invalid", reason: "cookie header too large" };
	const values: string[] = [];
	for (const pair of text.split(";")) {
		const separator = pair.indexOf("=");
		if (separator === -1) continue;
		if (pair.slice(0, separator).trim() === name) values.push(pair.slice(separator + 1).trim());
	}
	const [value, ...others] = values;
	if (value === undefined) return { kind: "absent" };
	// Two cookies of one name (a path or domain variant, or an injected one): which is meant is ambiguous.
	if (others.length > 0) return { kind: "invalid", reason: "session cookie sent more than once" };
	if (!PRINTABLE_ASCII.test(value))
		return { kind: "invalid", reason: "session cookie is not printable ASCII" };
	return { kind: "found", value };
}

export interface CookieAttributes {
	readonly maxAgeSeconds: number;
	readonly isSecure: boolean;
}

export function serializeCookie(name: string, value: string, attributes: CookieAttributes): string {
	const parts = [
		`${name}=${value}`,
		"Path=/",
		`Max-Age=${attributes.maxAgeSeconds}`,
		"HttpOnly",
		"SameSite=Lax",
	];
	if (attributes.isSecure) parts.push("Secure");
	return parts.join("; ");
}

export function expiredCookie(name: string, isSecure: boolean): string {
	return serializeCookie(name, "", { maxAgeSeconds: 0, isSecure });
}
