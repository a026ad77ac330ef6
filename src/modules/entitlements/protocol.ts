/**
 * The Session Pro wire protocol as current clients speak it (upstream session-pro-backend dev, 0.3.0;
 * libsession-util pro_backend): the envelope, its error slugs, and the domain-separated messages that
 * are signed with Ed25519 directly (no hash). Times are seconds on the wire; keys and tags lowercase hex.
 */

export const BACKEND_VERSION = "0.3.0";

export type ErrorSlug =
	| "invalid_request"
	| "bad_signature"
	| "stale_request"
	| "subscription_expired"
	| "not_subscribed"
	| "revoked"
	| "rate_limited"
	| "internal_error"
	| "service_unavailable";

/**
 * A refusal the protocol defines: "fail" for the client's input or its account's state, "error" for the
 * backend's own fault. Always HTTP 200; `extra` fields go to the envelope's top level.
 */
export class ProtocolError extends Error {
	readonly slug: ErrorSlug;
	readonly extra: Readonly<Record<string, unknown>>;

	constructor(slug: ErrorSlug, message: string, extra: Record<string, unknown> = {}) {
		super(message);
		this.name = "ProtocolError";
		this.slug = slug;
		this.extra = extra;
	}

	get status(): "fail" | "error" {
		return this.slug === "internal_error" || this.slug === "service_unavailable" ? "error" : "fail";
	}

	envelope(): Record<string, unknown> {
		return { status: this.status, error_code: this.slug, error: this.message, ...this.extra };
	}
}

export const DOMAIN = {
	proof: "ProProof_v0_____",
	generateProof: "ProGenerateProof",
	getProStatus: "ProGetProStatus_",
	getPaymentDetails: "ProGetPayDetails",
} as const;

type MessageField = Uint8Array | number | string;

/**
 * `domain ‖ fields`: bytes verbatim, integers in canonical decimal, strings as UTF-8, and one NUL only
 * between two adjacent variable-length fields (integers and strings), so no two field lists collide.
 */
export function signedMessage(domain: string, ...fields: MessageField[]): Buffer {
	const parts: Buffer[] = [Buffer.from(domain, "ascii")];
	let previousWasVariable = false;
	for (const field of fields) {
		const variable = typeof field !== "object";
		if (variable && previousWasVariable) parts.push(Buffer.from([0]));
		parts.push(
			typeof field === "object"
				? Buffer.from(field)
				: Buffer.from(typeof field === "number" ? String(Math.trunc(field)) : field, "utf8"),
		);
		previousWasVariable = variable;
	}
	return Buffer.concat(parts);
}

export const proofMessage = (
	revocationTag: Uint8Array,
	rotatingPkey: Uint8Array,
	expiryTs: number,
) => signedMessage(DOMAIN.proof, revocationTag, rotatingPkey, expiryTs);

export const generateProofMessage = (
	masterPkey: Uint8Array,
	rotatingPkey: Uint8Array,
	ts: number,
) => signedMessage(DOMAIN.generateProof, masterPkey, rotatingPkey, ts);

export const getProStatusMessage = (masterPkey: Uint8Array, ts: number) =>
	signedMessage(DOMAIN.getProStatus, masterPkey, ts);

export const getPaymentDetailsMessage = (
	masterPkey: Uint8Array,
	ts: number,
	limit: number,
	before: string,
) => signedMessage(DOMAIN.getPaymentDetails, masterPkey, ts, limit, before);
