/**
 * The outer onion-request body the last service node POSTs to us (specs/session-file-server.md §7.1):
 * `u32_le(N) ‖ ciphertext[N] ‖ JSON`, the JSON naming the client's ephemeral X25519 key and the cipher.
 */
import { z } from "zod";
import { JsonBodyError, parseJsonBody } from "#lib/json-body";

export type OnionCipher = "aes-gcm" | "xchacha20";

export interface OuterRequest {
	readonly ciphertext: Uint8Array;
	readonly ephemeralKey: Uint8Array;
	readonly cipher: OnionCipher;
}

export class OnionEnvelopeError extends Error {
	constructor(reason: string) {
		super(reason);
		this.name = "OnionEnvelopeError";
	}
}

/** libsession refuses larger onion bodies. */
export const MAX_ONION_BODY_BYTES = 10_485_760;

const CIPHER_BY_ENC_TYPE: ReadonlyMap<string, OnionCipher> = new Map([
	["xchacha20", "xchacha20"],
	["xchacha20-poly1305", "xchacha20"],
	["aes-gcm", "aes-gcm"],
	["gcm", "aes-gcm"],
]);

const outerMetadata = z.object({ ephemeral_key: z.string(), enc_type: z.string().optional() });

const Z_BASE_32 = "ybndrfg8ejkmcpqxot1uwisza345h769";

function decodeBase32z(text: string): Uint8Array | null {
	const bytes: number[] = [];
	let buffer = 0;
	let bits = 0;
	for (const character of text) {
		const value = Z_BASE_32.indexOf(character);
		if (value === -1) return null;
		buffer = (buffer << 5) | value;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			bytes.push((buffer >> bits) & 0xff);
		}
	}
	return Uint8Array.from(bytes.slice(0, 32));
}

/** Clients send the key as 64 hex, 43/44 base64, 52 base32z characters, or 32 raw bytes (§7.1). */
export function decodeEphemeralKey(text: string): Uint8Array | null {
	let key: Uint8Array | null = null;
	if (text.length === 64 && /^[0-9a-fA-F]+$/.test(text)) key = Buffer.from(text, "hex");
	else if ((text.length === 43 || text.length === 44) && /^[A-Za-z0-9+/_-]+=?$/.test(text)) {
		key = Buffer.from(text, "base64");
	} else if (text.length === 52) key = decodeBase32z(text);
	else if (Buffer.byteLength(text, "latin1") === 32) key = Buffer.from(text, "latin1");
	return key !== null && key.length === 32 ? key : null;
}

export function parseOuterRequest(body: Uint8Array): OuterRequest {
	if (body.byteLength < 4) throw new OnionEnvelopeError("body shorter than its length prefix");
	const view = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
	const ciphertextBytes = view.readUInt32LE(0);
	if (ciphertextBytes > view.length - 4)
		throw new OnionEnvelopeError("length prefix exceeds the body");
	let metadata: unknown;
	try {
		metadata = parseJsonBody(view.subarray(4 + ciphertextBytes).toString("utf8"));
	} catch (error) {
		if (!(error instanceof JsonBodyError)) throw error;
		throw new OnionEnvelopeError(`metadata: ${error.message}`);
	}
	const parsed = outerMetadata.safeParse(metadata);
	if (!parsed.success) throw new OnionEnvelopeError("metadata lacks ephemeral_key");
	const cipher = CIPHER_BY_ENC_TYPE.get(parsed.data.enc_type ?? "aes-gcm");
	if (cipher === undefined) throw new OnionEnvelopeError("unknown enc_type");
	const ephemeralKey = decodeEphemeralKey(parsed.data.ephemeral_key);
	if (ephemeralKey === null) throw new OnionEnvelopeError("ephemeral_key is not a 32-byte key");
	return { ciphertext: view.subarray(4, 4 + ciphertextBytes), ephemeralKey, cipher };
}
