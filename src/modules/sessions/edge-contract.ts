/**
 * The session wire contract shared with the edge (edge/lua/resty/tollgate_session.lua) and, in resty
 * format, with flask-resty-shared-session 0.1.2. Spec: docs/edge-contract.md, vectors: test/vectors/sessions.json.
 *
 * resty: cookie `<uuid4>.<sig>` (64 chars), sig = base64url-nopad(HMAC-SHA1(HMAC-SHA1(secret, salt), sid)),
 *   keys named by the sid; `P:signature:<sid>` holds sig (the original Lua module compares against it).
 * v1: cookie `v1.<id>.<tag>` (90 chars), id = 32 random bytes, tag = HMAC-SHA256(secret, "v1." ‖ id), both
 *   base64url-nopad; keys are named by base64url(SHA-256(id)), so a copy of Redis holds no usable cookie.
 */
import {
	createHash,
	createHmac,
	createSecretKey,
	randomBytes,
	randomUUID,
	timingSafeEqual,
} from "node:crypto";

export type SessionFormat = "v1" | "resty";

export interface IssuedCookie {
	/** The cookie value the browser holds. */
	readonly value: string;
	/** Names the session's keys: the sid (resty) or the hashed id (v1); safe to show apps and logs. */
	readonly sessionId: string;
	/** Written to `P:signature:<sessionId>` (resty); null in v1, which keeps no such key. */
	readonly storedSignature: string | null;
}

export interface SessionKeys {
	readonly data: string;
	readonly signature: string;
	readonly groups: string;
}

export function sessionKeys(prefix: string, sessionId: string): SessionKeys {
	return {
		data: `${prefix}:data:${sessionId}`,
		signature: `${prefix}:signature:${sessionId}`,
		groups: `${prefix}:groups:${sessionId}`,
	};
}

/** Tollgate's own index of a user's sessions; the edge and the Flask package never read it. */
export function userSessionsKey(prefix: string, userId: string): string {
	return `${prefix}:user:${userId}`;
}

const UUID4_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const BASE64URL_43 = /^[A-Za-z0-9_-]{43}$/;
const BASE64URL_27 = /^[A-Za-z0-9_-]{27}$/;

function safeEqual(left: string, right: string): boolean {
	const a = Buffer.from(left);
	const b = Buffer.from(right);
	return a.length === b.length && timingSafeEqual(a, b);
}

export interface CookieCodec {
	readonly format: SessionFormat;
	issue(): IssuedCookie;
	/** The session a cookie names if its signature is right; null for anything else (never throws). */
	verify(value: string): IssuedCookie | null;
	/** What `P:signature:<sessionId>` must hold: the resty signature; null in v1. */
	storedSignatureFor(sessionId: string): string | null;
}

/** itsdangerous `Signer(secret, salt, key_derivation="hmac")` with its default SHA-1. */
export function restySignature(secret: string, salt: string, sid: string): string {
	const derivedKey = createHmac("sha1", secret).update(salt).digest();
	return createHmac("sha1", derivedKey).update(sid).digest("base64url");
}

export function restyCodec(secret: string, salt: string): CookieCodec {
	// Imported once: building the key on every check costs more than the HMAC itself.
	const derivedKey = createSecretKey(createHmac("sha1", secret).update(salt).digest());
	const sign = (sid: string) => createHmac("sha1", derivedKey).update(sid).digest("base64url");
	return {
		format: "resty",
		issue: () => {
			const sid = randomUUID();
			const signature = sign(sid);
			return { value: `${sid}.${signature}`, sessionId: sid, storedSignature: signature };
		},
		verify: (value) => {
			if (value.length !== 64 || value[36] !== ".") return null;
			const sid = value.slice(0, 36);
			const signature = value.slice(37);
			if (!UUID4_PATTERN.test(sid) || !BASE64URL_27.test(signature)) return null;
			if (!safeEqual(signature, sign(sid))) return null;
			return { value, sessionId: sid, storedSignature: signature };
		},
		storedSignatureFor: sign,
	};
}

export function v1SessionId(id: string): string {
	return createHash("sha256").update(id).digest("base64url");
}

export function v1Codec(secret: string): CookieCodec {
	const key = createSecretKey(Buffer.from(secret, "utf8"));
	const tagOf = (id: string) => createHmac("sha256", key).update(`v1.${id}`).digest("base64url");
	return {
		format: "v1",
		issue: () => {
			const id = randomBytes(32).toString("base64url");
			return { value: `v1.${id}.${tagOf(id)}`, sessionId: v1SessionId(id), storedSignature: null };
		},
		verify: (value) => {
			if (value.length !== 90 || !value.startsWith("v1.") || value[46] !== ".") return null;
			const id = value.slice(3, 46);
			const tag = value.slice(47);
			if (!BASE64URL_43.test(id) || !BASE64URL_43.test(tag)) return null;
			if (!safeEqual(tag, tagOf(id))) return null;
			return { value, sessionId: v1SessionId(id), storedSignature: null };
		},
		storedSignatureFor: () => null,
	};
}

/**
 * Remembers the cookies a codec has verified (a signature is valid or not forever, for one secret), so a
 * busy edge check recomputes no HMAC for a cookie it has seen. Bounded; only valid cookies are kept, so a
 * flood of forged ones cannot evict them. Liveness is still asked of the store on every check.
 */
export function rememberVerified(codec: CookieCodec, maxEntries: number): CookieCodec {
	const verified = new Map<string, IssuedCookie>();
	return {
		...codec,
		verify: (value) => {
			const known = verified.get(value);
			if (known !== undefined) return known;
			const cookie = codec.verify(value);
			if (cookie === null) return null;
			if (verified.size >= maxEntries) {
				const oldest = verified.keys().next();
				if (oldest.done !== true) verified.delete(oldest.value);
			}
			verified.set(value, cookie);
			return cookie;
		},
	};
}
