/**
 * The token vault: each connect session's upstream tokens (access, refresh, personal access token), sealed
 * with AES-256-GCM under a configured key whose id is stored beside the ciphertext, the session and hub as
 * associated data (a sealed row cannot be moved to another session). Plaintext tokens exist only in memory,
 * for the call that uses them.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import { z } from "zod";
import type { ServiceKeys } from "../../keys/service-keys.ts";

const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const FORMAT_VERSION = 1;
/** Public, like the service's dev key: dev mode only. */
const DEV_KEY = { id: "dev", key: Buffer.alloc(KEY_BYTES, 0xc0) };
const DERIVED_KEY_ID = "service";
const DERIVATION_INFO = "tollgate connect token vault v1";

export interface UpstreamTokens {
	readonly accessToken: string;
	readonly refreshToken: string | null;
	/** A personal access token the user added: used instead of the access token while set. */
	readonly personalAccessToken: string | null;
}

const tokensSchema = z.strictObject({
	access_token: z.string(),
	refresh_token: z.string().nullable(),
	personal_access_token: z.string().nullable(),
});

/** A vault row as stored. */
export interface StoredGrant {
	readonly sessionId: string;
	readonly hub: string;
	/** The user's `sub` at the hub. */
	readonly subject: string;
	readonly keyId: string;
	readonly sealed: Uint8Array;
	/** Bumped by every change of the tokens: writes compare it (two refreshes never both land). */
	readonly version: number;
	readonly accessExpiresAtMs: number | null;
	readonly createdAtMs: number;
}

/**
 * The vault's storage port. Every write that replaces tokens is a compare-and-set on `version`, so a
 * refresh that lost a race (another instance rotated the tokens first) changes nothing.
 */
export interface GrantStore {
	insert(grant: StoredGrant): Promise<void>;
	find(sessionId: string): Promise<StoredGrant | null>;
	/** Replaces the sealed tokens if the row is still at `expectedVersion`; `false` otherwise. */
	replace(
		sessionId: string,
		expectedVersion: number,
		change: Pick<StoredGrant, "keyId" | "sealed" | "accessExpiresAtMs">,
	): Promise<boolean>;
	delete(sessionId: string): Promise<boolean>;
	/** Rows after `afterSessionId` in session-id order, for the purge and key rotation. */
	page(afterSessionId: string, limit: number): Promise<StoredGrant[]>;
}

export interface VaultKey {
	readonly id: string;
	readonly key: Buffer;
}

function associatedData(sessionId: string, hub: string): Buffer {
	return Buffer.from(`tollgate connect ${hub} ${sessionId}`, "utf8");
}

export class VaultKeys {
	readonly current: VaultKey;
	readonly #byId: ReadonlyMap<string, VaultKey>;

	constructor(keys: readonly VaultKey[]) {
		const [current] = keys;
		if (current === undefined) throw new Error("the token vault needs a key");
		for (const key of keys)
			if (key.key.length !== KEY_BYTES)
				throw new Error(`token key ${key.id} must be ${KEY_BYTES} bytes`);
		this.current = current;
		this.#byId = new Map(keys.map((key) => [key.id, key]));
	}

	seal(sessionId: string, hub: string, tokens: UpstreamTokens): { keyId: string; sealed: Buffer } {
		const nonce = randomBytes(NONCE_BYTES);
		const cipher = createCipheriv("aes-256-gcm", this.current.key, nonce);
		cipher.setAAD(associatedData(sessionId, hub));
		const plaintext = Buffer.from(
			JSON.stringify({
				access_token: tokens.accessToken,
				refresh_token: tokens.refreshToken,
				personal_access_token: tokens.personalAccessToken,
			}),
			"utf8",
		);
		const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
		return {
			keyId: this.current.id,
			sealed: Buffer.concat([Buffer.of(FORMAT_VERSION), nonce, body, cipher.getAuthTag()]),
		};
	}

	/** Null when the key is not configured (any more) or the row was altered or moved. */
	open(grant: Pick<StoredGrant, "sessionId" | "hub" | "keyId" | "sealed">): UpstreamTokens | null {
		const key = this.#byId.get(grant.keyId);
		const bytes = Buffer.from(grant.sealed);
		if (key === undefined || bytes.length < 1 + NONCE_BYTES + TAG_BYTES) return null;
		if (bytes[0] !== FORMAT_VERSION) return null;
		const decipher = createDecipheriv("aes-256-gcm", key.key, bytes.subarray(1, 1 + NONCE_BYTES));
		decipher.setAAD(associatedData(grant.sessionId, grant.hub));
		decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
		let plaintext: Buffer;
		try {
			plaintext = Buffer.concat([
				decipher.update(bytes.subarray(1 + NONCE_BYTES, bytes.length - TAG_BYTES)),
				decipher.final(),
			]);
		} catch {
			return null;
		}
		const parsed = tokensSchema.safeParse(JSON.parse(plaintext.toString("utf8")));
		if (!parsed.success) return null;
		return {
			accessToken: parsed.data.access_token,
			refreshToken: parsed.data.refresh_token,
			personalAccessToken: parsed.data.personal_access_token,
		};
	}
}

/**
 * `connect.token_keys` when set (`<id>:<key>`, the first sealing); in dev mode the public dev key; else a
 * key derived from the service key (which every instance of a cluster shares): a database dump then opens
 * the tokens only together with the service key's own row, and the log says so.
 */
export function resolveVaultKeys(options: {
	readonly configured: readonly string[];
	readonly isDev: boolean;
	readonly serviceKeys: Pick<ServiceKeys, "ed25519" | "source">;
	readonly warn: (message: string) => void;
}): VaultKeys {
	if (options.configured.length > 0)
		return new VaultKeys(
			options.configured.map((entry) => {
				const separator = entry.indexOf(":");
				return {
					id: entry.slice(0, separator),
					key: Buffer.from(entry.slice(separator + 1), "base64url"),
				};
			}),
		);
	if (options.isDev) {
		options.warn(
			"dev mode: upstream tokens are sealed with the public dev key; never run dev mode in production",
		);
		return new VaultKeys([DEV_KEY]);
	}
	if (options.serviceKeys.source === "database")
		options.warn(
			"connect.token_keys is unset: upstream tokens are sealed with a key derived from the service key, which the database holds too; set connect.token_keys (or keys.ed25519_file) so a database dump does not open them",
		);
	return new VaultKeys([
		{
			id: DERIVED_KEY_ID,
			key: Buffer.from(
				hkdfSync(
					"sha256",
					options.serviceKeys.ed25519.seed,
					Buffer.alloc(0),
					DERIVATION_INFO,
					KEY_BYTES,
				),
			),
		},
	]);
}

export interface OpenedGrant {
	readonly grant: StoredGrant;
	readonly tokens: UpstreamTokens;
}

/** The vault: sealed rows in, plaintext tokens out, never the other way round. */
export class TokenVault {
	readonly #store: GrantStore;
	readonly #keys: VaultKeys;

	constructor(store: GrantStore, keys: VaultKeys) {
		this.#store = store;
		this.#keys = keys;
	}

	async put(options: {
		sessionId: string;
		hub: string;
		subject: string;
		tokens: UpstreamTokens;
		accessExpiresAtMs: number | null;
		nowMs: number;
	}): Promise<void> {
		const { keyId, sealed } = this.#keys.seal(options.sessionId, options.hub, options.tokens);
		await this.#store.insert({
			sessionId: options.sessionId,
			hub: options.hub,
			subject: options.subject,
			keyId,
			sealed,
			version: 1,
			accessExpiresAtMs: options.accessExpiresAtMs,
			createdAtMs: options.nowMs,
		});
	}

	/** The session's grant and its tokens; null when there is none or it cannot be opened any more. */
	async open(sessionId: string): Promise<OpenedGrant | null> {
		const grant = await this.#store.find(sessionId);
		if (grant === null) return null;
		const tokens = this.#keys.open(grant);
		return tokens === null ? null : { grant, tokens };
	}

	/** New tokens for a grant still at `opened.grant.version`; `false` when another write came first. */
	async replace(
		opened: OpenedGrant,
		tokens: UpstreamTokens,
		accessExpiresAtMs: number | null,
	): Promise<boolean> {
		const { grant } = opened;
		const { keyId, sealed } = this.#keys.seal(grant.sessionId, grant.hub, tokens);
		return this.#store.replace(grant.sessionId, grant.version, {
			keyId,
			sealed,
			accessExpiresAtMs,
		});
	}

	async delete(sessionId: string): Promise<boolean> {
		return this.#store.delete(sessionId);
	}

	async *all(batch: number): AsyncGenerator<StoredGrant> {
		let after = "";
		for (;;) {
			const rows = await this.#store.page(after, batch);
			yield* rows;
			const last = rows.at(-1);
			if (last === undefined || rows.length < batch) return;
			after = last.sessionId;
		}
	}

	/**
	 * Re-seals every grant under the current key. Counts what was re-sealed and what no configured key
	 * opens (left as they are: their sessions fail closed, as logged out).
	 */
	async rotate(batch: number): Promise<{ resealed: number; unreadable: number }> {
		let resealed = 0;
		let unreadable = 0;
		for await (const grant of this.all(batch)) {
			if (grant.keyId === this.#keys.current.id) continue;
			const tokens = this.#keys.open(grant);
			if (tokens === null) {
				unreadable += 1;
				continue;
			}
			if (await this.replace({ grant, tokens }, tokens, grant.accessExpiresAtMs)) resealed += 1;
		}
		return { resealed, unreadable };
	}
}
