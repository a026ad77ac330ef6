import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe } from "vitest";
import { systemClock } from "../../src/lib/clock.ts";
import { EmbeddedKeyValueStore } from "../../src/storage/embedded/embedded-key-value-store.ts";
import { RedisKeyValueStore } from "../../src/storage/redis/redis-key-value-store.ts";
import { createTestRedisPrefix, redisUrl } from "../support/engines.ts";
import { describeKeyValueStoreContract } from "./key-value-store.contract.ts";

describeKeyValueStoreContract("embedded (SQLite file)", async () => {
	const dir = await mkdtemp(join(tmpdir(), "tollgate-kv-"));
	const store = new EmbeddedKeyValueStore(join(dir, "kv.db"), systemClock);
	return {
		store,
		cleanup: async () => {
			await store.close();
			await rm(dir, { recursive: true, force: true });
		},
	};
});

const redis = redisUrl();
describe.skipIf(redis === null)("Redis", () => {
	describeKeyValueStoreContract("Redis", async () => {
		const url = redis ?? "";
		const prefix = createTestRedisPrefix(url);
		const store = await RedisKeyValueStore.open({ url, keyPrefix: prefix.prefix });
		return {
			store,
			cleanup: async () => {
				await store.close();
				await prefix.drop();
			},
		};
	});
});
