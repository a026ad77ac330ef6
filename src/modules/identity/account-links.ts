/**
 * One-time links, as the key-value store keeps them: a random token the link carries (in its fragment, so
 * no server log sees it), stored only as its SHA-256, with a TTL, spent by one atomic consume. Set-password
 * links (an operator's, a reset's, a confirmed sign-up's), e-mail change confirmations and invitations.
 */
import { createHash, randomBytes } from "node:crypto";
import type { KeyValueStore } from "../../storage/index.ts";

const TOKEN_BYTES = 32;

export type LinkKind = "set_password" | "email_change" | "invite";

/** What a set-password link lets its holder do. */
export interface PasswordLink {
	readonly userId: string;
	/** set: an operator's link; reset: asked for by mail; signup: the account is made when it is spent. */
	readonly purpose: "set" | "reset" | "signup";
	readonly signup?: {
		readonly email: string;
		readonly displayName: string | null;
		/** The invitation it was asked with (invite-only sign-up): spent with the link. */
		readonly invite: string | null;
	};
	/** Where the user goes afterwards (the authorization the sign-up started from). */
	readonly continueTo?: string;
}

export interface EmailChangeLink {
	readonly userId: string;
	readonly oldEmail: string;
	readonly newEmail: string;
}

const keyOf = (kind: LinkKind, token: string) =>
	`identity:${kind}:${createHash("sha256").update(token).digest("hex")}`;

export class AccountLinks {
	readonly #kv: KeyValueStore;

	constructor(kv: KeyValueStore) {
		this.#kv = kv;
	}

	async issue(kind: LinkKind, record: object, ttlMs: number): Promise<string> {
		const token = randomBytes(TOKEN_BYTES).toString("base64url");
		await this.#kv.set(keyOf(kind, token), JSON.stringify(record), { ttlMs });
		return token;
	}

	/** The link's record, left valid; null when unknown, spent or expired. */
	async peek<T>(kind: LinkKind, token: string): Promise<T | null> {
		const stored = await this.#kv.get(keyOf(kind, token));
		return stored === null ? null : (JSON.parse(stored) as T);
	}

	/** The link's record, spent: of two requests with one link, one gets it. */
	async spend<T>(kind: LinkKind, token: string): Promise<T | null> {
		const stored = await this.#kv.consume(keyOf(kind, token));
		return stored === null ? null : (JSON.parse(stored) as T);
	}
}
