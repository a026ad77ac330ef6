/**
 * `next_cursor` of /get_payment_details: opaque to clients, which echo it back as `before`. As upstream:
 * hex(nonce ‖ XChaCha20-Poly1305(u64 payment id, associated data = master key)) under a key derived from
 * the signing seed, so a cursor neither reveals ids nor works for another account.
 */
import { randomBytes } from "node:crypto";
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { blake2b } from "@noble/hashes/blake2.js";

const NONCE_BYTES = 24;
const CURSOR_HEX_LENGTH = (NONCE_BYTES + 8 + 16) * 2;

export interface PaymentCursor {
	seal(paymentId: number, masterPkey: Uint8Array): string;
	/** The payment id inside, or null for anything this server did not seal for this account. */
	open(cursor: string, masterPkey: Uint8Array): number | null;
}

export function paymentCursor(signingSeed: Uint8Array): PaymentCursor {
	const key = blake2b(signingSeed, {
		dkLen: 32,
		personalization: new TextEncoder().encode("SeshProCursorKey"),
	});
	return {
		seal(paymentId, masterPkey) {
			const nonce = randomBytes(NONCE_BYTES);
			const plaintext = Buffer.alloc(8);
			plaintext.writeBigUInt64BE(BigInt(paymentId));
			const sealed = xchacha20poly1305(key, nonce, masterPkey).encrypt(plaintext);
			return Buffer.concat([nonce, sealed]).toString("hex");
		},
		open(cursor, masterPkey) {
			if (cursor.length !== CURSOR_HEX_LENGTH || !/^[0-9a-fA-F]+$/.test(cursor)) return null;
			const bytes = Buffer.from(cursor, "hex");
			try {
				const plaintext = xchacha20poly1305(
					key,
					bytes.subarray(0, NONCE_BYTES),
					masterPkey,
				).decrypt(bytes.subarray(NONCE_BYTES));
				return Number(Buffer.from(plaintext).readBigUInt64BE());
			} catch {
				return null;
			}
		},
	};
}
