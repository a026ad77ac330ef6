/**
 * Sessions in Redis in the layout flask-resty-shared-session and the edge read (edge-contract.ts): keys
 * are not prefixed by the key-value store's prefix, only by the sessions key prefix, because nginx and
 * Flask apps name them the same way.
 */
import type { Redis } from "ioredis";
import { closeRedis, connectRedis, isReplyError, unavailable } from "../../../storage/index.ts";
import { sessionKeys, userSessionsKey } from "../edge-contract.ts";
import type { EdgeCheck, SessionStore, SessionWrite, StoredSession } from "../session-store.ts";

type PipelineResults = [error: Error | null, result: unknown][] | null;

function resultsOf(results: PipelineResults): unknown[] {
	return (results ?? []).map(([error, result]) => {
		if (error !== null) throw error;
		return result;
	});
}

/** What an edge's positive cache listens to (docs/edge-contract.md, "Positive cache"). */
export const HEARTBEAT_MESSAGE = "heartbeat";

export class RedisSessionStore implements SessionStore {
	readonly #redis: Redis;
	readonly #prefix: string;
	readonly #invalidationChannel: string;

	private constructor(redis: Redis, prefix: string, invalidationChannel: string) {
		this.#redis = redis;
		this.#prefix = prefix;
		this.#invalidationChannel = invalidationChannel;
	}

	static async open(
		url: string,
		prefix: string,
		invalidationChannel: string,
	): Promise<RedisSessionStore> {
		return new RedisSessionStore(await connectRedis({ url }), prefix, invalidationChannel);
	}

	/** Tells edges that their caches are trustworthy: they stop using them when heartbeats stop. */
	async publishHeartbeat(): Promise<void> {
		await this.#run((redis) => redis.publish(this.#invalidationChannel, HEARTBEAT_MESSAGE));
	}

	async #run<T>(work: (redis: Redis) => Promise<T>): Promise<T> {
		try {
			return await work(this.#redis);
		} catch (error) {
			throw isReplyError(error) ? error : unavailable(error);
		}
	}

	async save(write: SessionWrite): Promise<void> {
		const keys = sessionKeys(this.#prefix, write.sessionId);
		await this.#run(async (redis) => {
			const transaction = redis.multi().setex(keys.data, write.ttlSeconds, write.dataJson);
			if (write.storedSignature !== null)
				transaction.setex(keys.signature, write.ttlSeconds, write.storedSignature);
			transaction.del(keys.groups);
			if (write.groups.length > 0) {
				transaction.sadd(keys.groups, ...write.groups).expire(keys.groups, write.ttlSeconds);
			}
			if (write.userId !== null) {
				const index = userSessionsKey(this.#prefix, write.userId);
				transaction.sadd(index, write.sessionId).expire(index, write.ttlSeconds);
			}
			// Inside the transaction, after the writes: an edge that hears it reads the new groups.
			transaction.publish(this.#invalidationChannel, write.sessionId);
			resultsOf(await transaction.exec());
		});
	}

	async load(sessionId: string): Promise<StoredSession | null> {
		const keys = sessionKeys(this.#prefix, sessionId);
		const [dataJson, groups, ttlSeconds] = await this.#run(async (redis) =>
			resultsOf(await redis.pipeline().get(keys.data).smembers(keys.groups).ttl(keys.data).exec()),
		);
		if (typeof dataJson !== "string" || !Array.isArray(groups) || typeof ttlSeconds !== "number")
			return null;
		return { dataJson, groups: groups.map(String), ttlSeconds };
	}

	async touch(sessionId: string, ttlSeconds: number): Promise<boolean> {
		const keys = sessionKeys(this.#prefix, sessionId);
		const [dataExtended] = await this.#run(async (redis) =>
			resultsOf(
				await redis
					.multi()
					.expire(keys.data, ttlSeconds)
					.expire(keys.signature, ttlSeconds)
					.expire(keys.groups, ttlSeconds)
					.exec(),
			),
		);
		return dataExtended === 1;
	}

	async destroy(sessionId: string, userId: string | null): Promise<boolean> {
		const keys = sessionKeys(this.#prefix, sessionId);
		const [deleted] = await this.#run(async (redis) => {
			const transaction = redis.multi().del(keys.data, keys.signature, keys.groups);
			if (userId !== null) transaction.srem(userSessionsKey(this.#prefix, userId), sessionId);
			transaction.publish(this.#invalidationChannel, sessionId);
			return resultsOf(await transaction.exec());
		});
		return typeof deleted === "number" && deleted > 0;
	}

	/**
	 * The groups SET is written with the session's TTL and deleted with it, so membership implies a live
	 * session: the common case (a member) is one command, as at the edge. Only a refusal asks again.
	 */
	async check(
		sessionId: string,
		expectedSignature: string | null,
		group: string | null,
	): Promise<EdgeCheck> {
		const keys = sessionKeys(this.#prefix, sessionId);
		return this.#run(async (redis) => {
			if (group !== null && (await redis.sismember(keys.groups, group)) === 1) {
				return { isAlive: true, isMember: true };
			}
			const isAlive =
				expectedSignature === null
					? (await redis.exists(keys.data)) === 1
					: (await redis.get(keys.signature)) === expectedSignature;
			return { isAlive, isMember: false };
		});
	}

	async listUserSessions(userId: string): Promise<string[]> {
		const index = userSessionsKey(this.#prefix, userId);
		return this.#run(async (redis) => {
			const sessionIds = await redis.smembers(index);
			if (sessionIds.length === 0) return [];
			const pipeline = redis.pipeline();
			for (const sessionId of sessionIds)
				pipeline.exists(sessionKeys(this.#prefix, sessionId).data);
			const exists = resultsOf(await pipeline.exec());
			const dead = sessionIds.filter((_sessionId, index) => exists[index] !== 1);
			if (dead.length > 0) await redis.srem(index, ...dead);
			return sessionIds.filter((_sessionId, index) => exists[index] === 1);
		});
	}

	async ping(): Promise<void> {
		await this.#run((redis) => redis.ping());
	}

	close(): Promise<void> {
		return closeRedis(this.#redis);
	}
}
