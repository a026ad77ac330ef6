/**
 * Sessions over the key-value port, for one machine without an edge (the embedded default). Same key
 * names as the Redis layout. Not atomic across keys, so the data key, which every read requires, is
 * written last and deleted first.
 */
import type { KeyValueStore } from "../../../storage/index.ts";
import { sessionKeys, userSessionsKey } from "../edge-contract.ts";
import type { EdgeCheck, SessionStore, SessionWrite, StoredSession } from "../session-store.ts";

export class KeyValueSessionStore implements SessionStore {
	readonly #kv: KeyValueStore;
	readonly #prefix: string;

	constructor(kv: KeyValueStore, prefix: string) {
		this.#kv = kv;
		this.#prefix = prefix;
	}

	async save(write: SessionWrite): Promise<void> {
		const keys = sessionKeys(this.#prefix, write.sessionId);
		const ttlMs = write.ttlSeconds * 1_000;
		await this.#kv.delete(keys.groups);
		if (write.groups.length > 0) await this.#kv.addToSet(keys.groups, write.groups, { ttlMs });
		if (write.storedSignature !== null)
			await this.#kv.set(keys.signature, write.storedSignature, { ttlMs });
		if (write.userId !== null) {
			await this.#kv.addToSet(userSessionsKey(this.#prefix, write.userId), [write.sessionId], {
				ttlMs,
			});
		}
		await this.#kv.set(keys.data, write.dataJson, { ttlMs });
	}

	async load(sessionId: string): Promise<StoredSession | null> {
		const keys = sessionKeys(this.#prefix, sessionId);
		const [dataJson, ttlMs, groups] = await Promise.all([
			this.#kv.get(keys.data),
			this.#kv.ttlMs(keys.data),
			this.#kv.setMembers(keys.groups),
		]);
		if (dataJson === null || ttlMs === null) return null;
		return { dataJson, groups, ttlSeconds: Math.ceil(ttlMs / 1_000) };
	}

	async touch(sessionId: string, ttlSeconds: number): Promise<boolean> {
		const keys = sessionKeys(this.#prefix, sessionId);
		const ttlMs = ttlSeconds * 1_000;
		const [dataExtended] = await Promise.all([
			this.#kv.expire(keys.data, ttlMs),
			this.#kv.expire(keys.signature, ttlMs),
			this.#kv.expire(keys.groups, ttlMs),
		]);
		return dataExtended;
	}

	async destroy(sessionId: string, userId: string | null): Promise<boolean> {
		const keys = sessionKeys(this.#prefix, sessionId);
		const existed = await this.#kv.delete(keys.data);
		await Promise.all([this.#kv.delete(keys.signature), this.#kv.delete(keys.groups)]);
		if (userId !== null)
			await this.#kv.removeFromSet(userSessionsKey(this.#prefix, userId), [sessionId]);
		return existed;
	}

	async check(
		sessionId: string,
		expectedSignature: string | null,
		group: string | null,
	): Promise<EdgeCheck> {
		const keys = sessionKeys(this.#prefix, sessionId);
		const [isAlive, isMember] = await Promise.all([
			expectedSignature === null
				? this.#kv.ttlMs(keys.data).then((ttl) => ttl !== null)
				: this.#kv.get(keys.signature).then((stored) => stored === expectedSignature),
			group === null ? false : this.#kv.isSetMember(keys.groups, group),
		]);
		return { isAlive, isMember };
	}

	async listUserSessions(userId: string): Promise<string[]> {
		const index = userSessionsKey(this.#prefix, userId);
		const sessionIds = await this.#kv.setMembers(index);
		const alive = await Promise.all(
			sessionIds.map(
				async (sessionId) =>
					(await this.#kv.ttlMs(sessionKeys(this.#prefix, sessionId).data)) !== null,
			),
		);
		const dead = sessionIds.filter((_sessionId, position) => !alive[position]);
		if (dead.length > 0) await this.#kv.removeFromSet(index, dead);
		return sessionIds.filter((_sessionId, position) => alive[position]);
	}

	ping(): Promise<void> {
		return this.#kv.ping();
	}

	async close(): Promise<void> {}
}
