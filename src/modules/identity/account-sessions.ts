/**
 * Being signed in to the account page: an HttpOnly, SameSite=Strict cookie naming a record in the key-value
 * store (by its SHA-256) that holds the account, when it last proved itself and how (amr). It lasts an hour
 * unused. Changing the password or e-mail and deleting the account need a proof from the last five minutes
 * (step-up): the page asks for the password or a passkey again.
 */
import { createHash, randomBytes } from "node:crypto";
import type { Clock } from "#lib/clock";
import type { KeyValueStore } from "../../storage/index.ts";

export const ACCOUNT_COOKIE = "tollgate_account";
const SESSION_TTL_MS = 3_600_000;
export const STEP_UP_MS = 5 * 60_000;
const PREFIX = "identity:account_session:";
/** When an account's sessions were all ended (a password reset): older proofs no longer count. */
const ENDED_PREFIX = "identity:account_sessions_ended:";

export interface AccountSession {
	readonly userId: string;
	/** When the user last proved who they are (password or passkey). */
	readonly authTimeMs: number;
	readonly amr: readonly string[];
}

const keyOf = (token: string) => `${PREFIX}${createHash("sha256").update(token).digest("hex")}`;

export class AccountSessions {
	readonly #kv: KeyValueStore;
	readonly #clock: Clock;

	constructor(kv: KeyValueStore, clock: Clock) {
		this.#kv = kv;
		this.#clock = clock;
	}

	async start(userId: string, amr: readonly string[]): Promise<string> {
		const token = randomBytes(32).toString("base64url");
		const session: AccountSession = { userId, authTimeMs: this.#clock.nowMs(), amr };
		await this.#kv.set(keyOf(token), JSON.stringify(session), { ttlMs: SESSION_TTL_MS });
		return token;
	}

	/**
	 * The session the cookie names, its hour restarted; null when signed out, expired, or proved before its
	 * account's sessions were all ended.
	 */
	async find(token: string): Promise<AccountSession | null> {
		const stored = await this.#kv.get(keyOf(token));
		if (stored === null) return null;
		const session = JSON.parse(stored) as AccountSession;
		const endedAtMs = Number(await this.#kv.get(`${ENDED_PREFIX}${session.userId}`));
		if (session.authTimeMs < endedAtMs) {
			await this.#kv.delete(keyOf(token));
			return null;
		}
		await this.#kv.expire(keyOf(token), SESSION_TTL_MS);
		return session;
	}

	/** Ends every session of the account (kept for as long as a session can live). */
	async endAllOf(userId: string): Promise<void> {
		await this.#kv.set(`${ENDED_PREFIX}${userId}`, String(this.#clock.nowMs()), {
			ttlMs: SESSION_TTL_MS,
		});
	}

	/** A fresh proof (step-up): the session's auth time is now. */
	async reauthenticated(token: string, userId: string, amr: readonly string[]): Promise<void> {
		const session: AccountSession = { userId, authTimeMs: this.#clock.nowMs(), amr };
		await this.#kv.set(keyOf(token), JSON.stringify(session), { ttlMs: SESSION_TTL_MS });
	}

	isFresh(session: AccountSession): boolean {
		return this.#clock.nowMs() - session.authTimeMs <= STEP_UP_MS;
	}

	async end(token: string): Promise<void> {
		await this.#kv.delete(keyOf(token));
	}
}
