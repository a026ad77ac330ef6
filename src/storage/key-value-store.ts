/**
 * The key-value port: short-lived state with a TTL (login state, rate-limit windows, caches).
 * Implemented by the embedded store (SQLite file, one machine) and Redis (a cluster). Both pass
 * test/conformance/key-value-store.contract.ts unchanged.
 *
 * Values are strings (callers encode JSON). A key holds either a string/counter or a set, as in Redis;
 * using the other kind of operation on it throws `WrongKindError`. Every TTL is in milliseconds and,
 * when omitted, the key does not expire.
 */
export interface KeyValueStore {
	get(key: string): Promise<string | null>;

	/** Replaces the value (and its TTL: none when `ttlMs` is omitted). */
	set(key: string, value: string, options?: { ttlMs?: number }): Promise<void>;

	/**
	 * Writes only if the key is absent (or expired). Atomic: of concurrent callers on the same key,
	 * across processes and instances, exactly one gets `true`.
	 */
	setIfAbsent(key: string, value: string, options?: { ttlMs?: number }): Promise<boolean>;

	/**
	 * Reads and deletes in one step, for single-use values (login state, one-time codes). Atomic: of
	 * concurrent callers, exactly one receives the value; the others get `null`.
	 */
	consume(key: string): Promise<string | null>;

	/** Deletes a key of either kind; `true` if it existed. */
	delete(key: string): Promise<boolean>;

	/**
	 * Adds `by` (default 1) to an integer counter, creating it at 0 first. The TTL applies only when
	 * the counter is created (a fixed window). Atomic: concurrent increments are never lost.
	 */
	increment(key: string, options?: { by?: number; ttlMs?: number }): Promise<number>;

	/** Sets or clears (`null`) the TTL of an existing key; `false` if the key does not exist. */
	expire(key: string, ttlMs: number | null): Promise<boolean>;

	/** Remaining TTL in ms; `null` if the key does not exist, `Infinity` if it never expires. */
	ttlMs(key: string): Promise<number | null>;

	/** Adds members to a set, creating it; the TTL, when given, is (re)set for the whole set. */
	addToSet(key: string, members: readonly string[], options?: { ttlMs?: number }): Promise<void>;

	/** Removes members; a set left empty no longer exists. */
	removeFromSet(key: string, members: readonly string[]): Promise<void>;

	isSetMember(key: string, member: string): Promise<boolean>;

	/** All members, in no particular order. */
	setMembers(key: string): Promise<string[]>;

	/** Resolves when the store answers; rejects when it is unreachable. */
	ping(): Promise<void>;

	close(): Promise<void>;
}

export class WrongKindError extends Error {
	constructor(key: string) {
		super(`key ${key} holds a value of another kind`);
		this.name = "WrongKindError";
	}
}
