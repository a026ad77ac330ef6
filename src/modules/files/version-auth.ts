/**
 * Version-blinded request signatures on /session_version (specs/session-file-server.md §5.3–5.4). A client
 * signs with an Ed25519 key derived from its account seed (BLAKE2b keyed "VersionCheckKey_sig"), so the
 * server can count distinct checkers without learning who they are. The signed message is
 * `timestamp ‖ METHOD ‖ path [‖ "?" ‖ raw query] [‖ BLAKE2b-512(body)]`, over the query bytes exactly as sent.
 */
import { verify } from "node:crypto";
import { ed25519 } from "@noble/curves/ed25519.js";
import { blake2b } from "@noble/hashes/blake2.js";
import { publicKeyFromRaw } from "#lib/ed25519";

/** ±24 h: the original's window; a client outside it has a wrong clock, which it is told by a 425. */
export const TIMESTAMP_WINDOW_SECONDS = 86_400;
const VERSION_KEY_PREFIX = 0x07;

export type VersionAuthResult =
	| { readonly kind: "anonymous" }
	| { readonly kind: "verified"; readonly blindedId: string }
	| { readonly kind: "rejected"; readonly status: 400 | 401 | 425; readonly reason: string };

export interface SignedRequest {
	readonly method: string;
	/** The path as decoded (Flask's request.path). */
	readonly path: string;
	/** The query string exactly as sent, without the "?". */
	readonly rawQuery: string;
	readonly body: Uint8Array;
	readonly headers: {
		readonly pubkey: string | undefined;
		readonly timestamp: string | undefined;
		readonly signature: string | undefined;
	};
}

/** Hex of `hexLength` characters, or base64 (standard or URL-safe, padded or not) of `bytes` bytes. */
function decodeHexOrBase64(value: string, bytes: number): Uint8Array | null {
	if (value.length === bytes * 2 && /^[0-9a-fA-F]+$/.test(value)) return Buffer.from(value, "hex");
	if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(value)) return null;
	const decoded = Buffer.from(value.replaceAll("-", "+").replaceAll("_", "/"), "base64");
	return decoded.length === bytes && Math.ceil((bytes * 4) / 3) <= value.length ? decoded : null;
}

/** libsodium's crypto_core_ed25519_is_valid_point: canonical, on the curve, in the main subgroup, not small order. */
function isValidEd25519Point(bytes: Uint8Array): boolean {
	try {
		const point = ed25519.Point.fromBytes(bytes);
		return !point.isSmallOrder() && point.isTorsionFree();
	} catch {
		return false;
	}
}

export function signedMessage(timestamp: number, request: Omit<SignedRequest, "headers">): Buffer {
	const parts: Uint8Array[] = [Buffer.from(`${timestamp}${request.method}${request.path}`, "utf8")];
	if (request.rawQuery !== "") parts.push(Buffer.from(`?${request.rawQuery}`, "utf8"));
	if (request.body.length > 0) parts.push(blake2b(request.body, { dkLen: 64 }));
	return Buffer.concat(parts);
}

export function verifyVersionAuth(request: SignedRequest, nowSeconds: number): VersionAuthResult {
	const present = [
		request.headers.pubkey,
		request.headers.timestamp,
		request.headers.signature,
	].filter((value) => value !== undefined && value !== "");
	if (present.length === 0) return { kind: "anonymous" };
	if (present.length < 3) {
		return {
			kind: "rejected",
			status: 400,
			reason: "Invalid authentication: one or more X-FS-* auth headers is missing",
		};
	}
	const pubkey = decodeHexOrBase64(request.headers.pubkey ?? "", 33);
	if (
		pubkey === null ||
		pubkey[0] !== VERSION_KEY_PREFIX ||
		!isValidEd25519Point(pubkey.subarray(1))
	) {
		return {
			kind: "rejected",
			status: 400,
			reason: "Invalid authentication: X-FS-Pubkey is not a valid 07-prefixed Ed25519 key",
		};
	}
	const signature = decodeHexOrBase64(request.headers.signature ?? "", 64);
	if (signature === null) {
		return {
			kind: "rejected",
			status: 400,
			reason: "Invalid authentication: X-FS-Signature is not a valid signature",
		};
	}
	const timestampText = (request.headers.timestamp ?? "").trim();
	if (!/^[+-]?\d{1,15}$/.test(timestampText)) {
		return {
			kind: "rejected",
			status: 400,
			reason: "Invalid authentication: X-FS-Timestamp is not an integer",
		};
	}
	const timestamp = Number(timestampText);
	if (Math.abs(timestamp - nowSeconds) > TIMESTAMP_WINDOW_SECONDS) {
		return {
			kind: "rejected",
			status: 425,
			reason: "Invalid authentication: X-FS-Timestamp is too far from now",
		};
	}
	const key = publicKeyFromRaw("Ed25519", pubkey.subarray(1));
	if (!verify(null, signedMessage(timestamp, request), key, signature)) {
		return {
			kind: "rejected",
			status: 401,
			reason: "Invalid authentication: signature verification failed",
		};
	}
	// Always hex (the original stores the header as sent), so one key is one checker whatever its encoding.
	return { kind: "verified", blindedId: Buffer.from(pubkey).toString("hex") };
}
