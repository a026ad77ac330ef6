/**
 * The key-value port on Redis (7+), for several instances. Single-use reads are GETDEL and counters a Lua
 * script, so each is one atomic command on the server.
 */

import type { Redis } from "ioredis";
import { type KeyValueStore, WrongKindError } from "../key-value-store.ts";
import { closeRedis, connectRedis, isReplyError, unavailable } from "./connect-redis.ts";

// INCRBY and the TTL of a new counter must be one step, or a crash between them leaves a counter
// that never expires (and a rate limit that never resets).
const INCREMENT_SCRIPT = `
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if tonumber(ARGV[2]) > 0 and redis.call('PTTL', KEYS[1]) == -1 then
	redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return value`;

// PERSIST answers 0 both for "no such key" and "had no TTL"; the port wants only the first to be false.
const PERSIST_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('PERSIST', KEYS[1])
return 1`;

export interface RedisKeyValueStoreOptions {
	readonly url: string;
	readonly keyPrefix: string;
}

export class RedisKeyValueStore implements KeyValueStore {
	readonly #redis: Redis;

	private constructor(redis: Redis) {
		this.#redis = redis;
	}

	/** Connects; when Redis is unreachable the store is returned anyway and keeps retrying in the background. */
	static async open(options: RedisKeyValueStoreOptions): Promise<RedisKeyValueStore> {
		return new RedisKeyValueStore(await connectRedis(options));
	}

	async #run<T>(key: string, command: (redis: Redis) => Promise<T>): Promise<T> {
		try {
			return await command(this.#redis);
		} catch (error) {
			if (!isReplyError(error)) throw unavailable(error);
			if (/^(WRONGTYPE|ERR value is not an integer)/.test(error.message)) {
				throw new WrongKindError(key);
			}
			throw error;
		}
	}

	get(key: string): Promise<string | null> {
		return this.#run(key, (redis) => redis.get(key));
	}

	async set(key: string, value: string, options: { ttlMs?: number } = {}): Promise<void> {
		const { ttlMs } = options;
		await this.#run(key, (redis) =>
			ttlMs === undefined ? redis.set(key, value) : redis.set(key, value, "PX", ttlMs),
		);
	}

	async setIfAbsent(
		key: string,
		value: string,
		options: { ttlMs?: number } = {},
	): Promise<boolean> {
		const { ttlMs } = options;
		const reply = await this.#run(key, (redis) =>
			ttlMs === undefined ? redis.set(key, value, "NX") : redis.set(key, value, "PX", ttlMs, "NX"),
		);
		return reply === "OK";
	}

	consume(key: string): Promise<string | null> {
		return this.#run(key, (redis) => redis.getdel(key));
	}

	async delete(key: string): Promise<boolean> {
		return (await this.#run(key, (redis) => redis.del(key))) > 0;
	}

	async increment(key: string, options: { by?: number; ttlMs?: number } = {}): Promise<number> {
		const reply = await this.#run(key, (redis) =>
			redis.eval(INCREMENT_SCRIPT, 1, key, options.by ?? 1, options.ttlMs ?? 0),
		);
		return Number(reply);
	}

	async expire(key: string, ttlMs: number | null): Promise<boolean> {
		const reply = await this.#run(key, (redis) =>
			ttlMs === null ? redis.eval(PERSIST_SCRIPT, 1, key) : redis.pexpire(key, ttlMs),
		);
		return Number(reply) === 1;
	}

	async ttlMs(key: string): Promise<number | null> {
		const reply = await this.#run(key, (redis) => redis.pttl(key));
		if (reply === -2) return null;
		return reply === -1 ? Number.POSITIVE_INFINITY : reply;
	}

	async addToSet(
		key: string,
		members: readonly string[],
		options: { ttlMs?: number } = {},
	): Promise<void> {
		const { ttlMs } = options;
		if (members.length === 0 && ttlMs === undefined) return;
		await this.#run(key, async (redis) => {
			const transaction = redis.multi();
			if (members.length > 0) transaction.sadd(key, ...members);
			if (ttlMs !== undefined) transaction.pexpire(key, ttlMs);
			const results = await transaction.exec();
			const failure = results?.find(([error]) => error !== null)?.[0];
			if (failure) throw failure;
		});
	}

	async removeFromSet(key: string, members: readonly string[]): Promise<void> {
		if (members.length === 0) return;
		await this.#run(key, (redis) => redis.srem(key, ...members));
	}

	async isSetMember(key: string, member: string): Promise<boolean> {
		return (await this.#run(key, (redis) => redis.sismember(key, member))) === 1;
	}

	setMembers(key: string): Promise<string[]> {
		return this.#run(key, (redis) => redis.smembers(key));
	}

	async ping(): Promise<void> {
		await this.#run("", (redis) => redis.ping());
	}

	close(): Promise<void> {
		return closeRedis(this.#redis);
	}
}
