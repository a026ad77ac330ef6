/**
 * App API keys kept in the database (`tollgate sessions keys add`): `<id>.<secret>`, the id 8 random bytes
 * in hex (public: listed, and how a presented key finds its row), the secret 32 random bytes in base64url.
 * Only SHA-256 of the whole key is stored: a 256-bit random secret needs no slow hash (lucia's reasoning).
 */
import { createHash, randomBytes } from "node:crypto";

export interface StoredAppApiKey {
	readonly id: string;
	readonly keySha256: Uint8Array;
	readonly label: string | null;
	readonly createdAtMs: number;
}

/** The stored keys, one row each; every instance reads the same rows, so a change applies at once. */
export interface AppApiKeyStore {
	insert(key: StoredAppApiKey): Promise<void>;
	findById(id: string): Promise<StoredAppApiKey | null>;
	/** Oldest first. */
	list(): Promise<StoredAppApiKey[]>;
	/** Whether a key with this id existed (and is now gone). */
	remove(id: string): Promise<boolean>;
	count(): Promise<number>;
}

const ID_BYTES = 8;
const SECRET_BYTES = 32;
const KEY_SHAPE = /^([0-9a-f]{16})\.[A-Za-z0-9_-]{43}$/;

export function appApiKeySha256(key: string): Buffer {
	return createHash("sha256").update(key).digest();
}

/** The id a presented key names, or null when it does not have a stored key's shape. */
export function appApiKeyIdOf(key: string): string | null {
	return KEY_SHAPE.exec(key)?.[1] ?? null;
}

/** A new key: `key` is shown to the operator once; `stored` is all that is kept. */
export function createAppApiKey(
	label: string | null,
	nowMs: number,
): { key: string; stored: StoredAppApiKey } {
	const id = randomBytes(ID_BYTES).toString("hex");
	const key = `${id}.${randomBytes(SECRET_BYTES).toString("base64url")}`;
	const keySha256 = new Uint8Array(appApiKeySha256(key));
	return { key, stored: { id, keySha256, label, createdAtMs: nowMs } };
}
