/**
 * The sessions module's storage port. Implementations: Redis (the edge-visible layout of edge-contract.ts)
 * and the embedded key-value store (one machine, no edge sharing). Both pass
 * test/conformance/session-store.contract.ts.
 */
export interface StoredSession {
	/** The session's JSON document exactly as stored (Flask's `dict(session)` in resty format). */
	readonly dataJson: string;
	readonly groups: readonly string[];
	/** Seconds until expiry. */
	readonly ttlSeconds: number;
}

export interface SessionWrite {
	readonly sessionId: string;
	readonly storedSignature: string | null;
	readonly dataJson: string;
	readonly groups: readonly string[];
	readonly userId: string | null;
	readonly ttlSeconds: number;
}

export interface EdgeCheck {
	/** The session exists (and, in resty format, its stored signature equals the cookie's). */
	readonly isAlive: boolean;
	readonly isMember: boolean;
}

export interface SessionStore {
	/**
	 * Writes all of a session's keys with one TTL, in flask-resty-shared-session's order (data, signature,
	 * groups: DEL then SADD if non-empty). Atomic on Redis (MULTI): a reader never sees a half-written session.
	 */
	save(write: SessionWrite): Promise<void>;

	load(sessionId: string): Promise<StoredSession | null>;

	/** Resets the TTL of every key of a live session; `false` if it no longer exists. */
	touch(sessionId: string, ttlSeconds: number): Promise<boolean>;

	/** Deletes every key of the session (and its entry in the user's index); `true` if it existed. */
	destroy(sessionId: string, userId: string | null): Promise<boolean>;

	/** One round trip for the edge check. `expectedSignature` is compared with the stored one when given. */
	check(
		sessionId: string,
		expectedSignature: string | null,
		group: string | null,
	): Promise<EdgeCheck>;

	/** Ids of the user's sessions that are still alive (expired ones are dropped from the index). */
	listUserSessions(userId: string): Promise<string[]>;

	ping(): Promise<void>;

	close(): Promise<void>;
}
