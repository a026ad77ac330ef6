/**
 * The key that seals the identity provider's secrets at rest (AES-256-GCM, the secret's name as associated
 * data, so a sealed value cannot be moved to another name). A stolen database alone then yields neither
 * the OPAQUE server setup (which would allow offline guessing against every record) nor a signing key.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import type { Logger } from "pino";
import type { ServiceKeys } from "../../keys/service-keys.ts";

const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const FORMAT_VERSION = 1;
/** Public, like the service's dev key: dev mode only. */
const DEV_KEY = Buffer.alloc(KEY_BYTES, 0x1d);
const DERIVATION_INFO = "tollgate identity secrets v1";

export class SecretsKey {
	readonly #key: Buffer;

	constructor(key: Uint8Array) {
		if (key.length !== KEY_BYTES) throw new Error(`the secrets key must be ${KEY_BYTES} bytes`);
		this.#key = Buffer.from(key);
	}

	seal(name: string, plaintext: Uint8Array): Buffer {
		const nonce = randomBytes(NONCE_BYTES);
		const cipher = createCipheriv("aes-256-gcm", this.#key, nonce);
		cipher.setAAD(Buffer.from(name, "utf8"));
		const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
		return Buffer.concat([Buffer.of(FORMAT_VERSION), nonce, body, cipher.getAuthTag()]);
	}

	/**
	 * A value this service stored under `name`; `what` names it when it cannot be opened, which means
	 * another instance sealed it with another key.
	 */
	openStored(name: string, sealed: Uint8Array, what: string): Buffer {
		const opened = this.#open(name, sealed);
		if (opened === null)
			throw new Error(
				`${what} was sealed with another identity.secrets_key: set the same key on every instance`,
			);
		return opened;
	}

	/** Null when the value was sealed with another key or under another name, or was altered. */
	#open(name: string, sealed: Uint8Array): Buffer | null {
		const bytes = Buffer.from(sealed);
		if (bytes.length < 1 + NONCE_BYTES + TAG_BYTES || bytes[0] !== FORMAT_VERSION) return null;
		const nonce = bytes.subarray(1, 1 + NONCE_BYTES);
		const tag = bytes.subarray(bytes.length - TAG_BYTES);
		const decipher = createDecipheriv("aes-256-gcm", this.#key, nonce);
		decipher.setAAD(Buffer.from(name, "utf8"));
		decipher.setAuthTag(tag);
		try {
			return Buffer.concat([
				decipher.update(bytes.subarray(1 + NONCE_BYTES, bytes.length - TAG_BYTES)),
				decipher.final(),
			]);
		} catch {
			return null;
		}
	}
}

/** A model's payloads sealed under one name, as text for a TEXT column. */
export function textSealer(key: SecretsKey, name: string) {
	return {
		seal: (json: string) => key.seal(name, Buffer.from(json, "utf8")).toString("base64url"),
		open: (sealed: string) =>
			key.openStored(name, Buffer.from(sealed, "base64url"), `a ${name} record`).toString("utf8"),
	};
}

function decodeKey(text: string): Buffer {
	return text.length === 64 ? Buffer.from(text, "hex") : Buffer.from(text, "base64url");
}

/**
 * `identity.secrets_key` when set; in dev mode the public dev key; else a key derived from the service key,
 * which every instance of a cluster already shares. Derived, the secrets are only as safe at rest as the
 * service key: kept in the database too, a dump opens them, and the log says so.
 */
export function resolveSecretsKey(options: {
	readonly configured: string | undefined;
	readonly isDev: boolean;
	readonly serviceKeys: Pick<ServiceKeys, "ed25519" | "source">;
	readonly logger: Logger;
}): SecretsKey {
	if (options.configured !== undefined) return new SecretsKey(decodeKey(options.configured));
	if (options.isDev) {
		options.logger.warn(
			"dev mode: identity secrets are sealed with the public dev key; never run dev mode in production",
		);
		return new SecretsKey(DEV_KEY);
	}
	if (options.serviceKeys.source === "database")
		options.logger.warn(
			"identity.secrets_key is unset: identity secrets are sealed with a key derived from the service key, which the database holds too; set identity.secrets_key (or keys.ed25519_file) so a database dump does not open them",
		);
	return new SecretsKey(
		Buffer.from(
			hkdfSync(
				"sha256",
				options.serviceKeys.ed25519.seed,
				Buffer.alloc(0),
				DERIVATION_INFO,
				KEY_BYTES,
			),
		),
	);
}
