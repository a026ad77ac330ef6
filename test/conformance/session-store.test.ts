import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { systemClock } from "../../src/lib/clock.ts";
import { KeyValueSessionStore } from "../../src/modules/sessions/storage/key-value-session-store.ts";
import {
	HEARTBEAT_MESSAGE,
	RedisSessionStore,
} from "../../src/modules/sessions/storage/redis-session-store.ts";
import { EmbeddedKeyValueStore } from "../../src/storage/embedded/embedded-key-value-store.ts";
import { redisUrl } from "../support/engines.ts";
import { describeSessionStoreContract } from "./session-store.contract.ts";

describeSessionStoreContract("the embedded key-value store", async () => {
	const dir = await mkdtemp(join(tmpdir(), "tollgate-sessions-"));
	const kv = new EmbeddedKeyValueStore(join(dir, "kv.db"), systemClock);
	return {
		store: new KeyValueSessionStore(kv, "tollgate_session"),
		cleanup: async () => {
			await kv.close();
			await rm(dir, { recursive: true, force: true });
		},
	};
});

const url = redisUrl();
describe.skipIf(url === null)("Redis", () => {
	const prefix = `tollgate_test_${Math.random().toString(36).slice(2)}`;
	async function dropPrefix(): Promise<void> {
		const redis = new Redis(url ?? "");
		const keys = await redis.keys(`${prefix}:*`);
		if (keys.length > 0) await redis.del(...keys);
		await redis.quit();
	}

	describeSessionStoreContract("Redis (edge layout)", async () => {
		const store = await RedisSessionStore.open(url ?? "", prefix, `${prefix}:invalidations`);
		return {
			store,
			cleanup: async () => {
				await store.close();
				await dropPrefix();
			},
		};
	});

	it("writes exactly the keys, types and TTLs flask-resty-shared-session writes", async () => {
		const store = await RedisSessionStore.open(url ?? "", prefix, `${prefix}:invalidations`);
		const redis = new Redis(url ?? "");
		try {
			await store.save({
				sessionId: "0f8fad5b-d9cb-469f-a165-70867728950e",
				storedSignature: "OTGmHAIvU1_-kCfo-2lkdL6PeeY",
				dataJson: '{"username": "sam@gmail.com", "groups": ["two"]}',
				groups: ["two"],
				userId: null,
				ttlSeconds: 2_678_400,
			});
			const base = `${prefix}:%s:0f8fad5b-d9cb-469f-a165-70867728950e`;
			const key = (kind: string) => base.replace("%s", kind);
			expect(await redis.type(key("data"))).toBe("string");
			expect(await redis.get(key("data"))).toBe('{"username": "sam@gmail.com", "groups": ["two"]}');
			expect(await redis.get(key("signature"))).toBe("OTGmHAIvU1_-kCfo-2lkdL6PeeY");
			expect(await redis.type(key("groups"))).toBe("set");
			expect(await redis.smembers(key("groups"))).toEqual(["two"]);
			for (const kind of ["data", "signature", "groups"]) {
				expect(await redis.ttl(key(kind))).toBeGreaterThan(2_678_390);
			}
		} finally {
			await store.close();
			await redis.quit();
			await dropPrefix();
		}
	});

	it("publishes the session id on its channel after each save and destroy, and heartbeats on request", async () => {
		const channel = `${prefix}:invalidations`;
		const store = await RedisSessionStore.open(url ?? "", prefix, channel);
		const subscriber = new Redis(url ?? "");
		const heard: string[] = [];
		subscriber.on("message", (_channel: string, message: string) => heard.push(message));
		try {
			await subscriber.subscribe(channel);
			const write = {
				sessionId: "published-session",
				storedSignature: null,
				dataJson: "{}",
				groups: ["one"],
				userId: "ann",
				ttlSeconds: 60,
			};
			await store.save(write);
			await store.save({ ...write, groups: [] });
			await store.destroy("published-session", "ann");
			await store.publishHeartbeat();
			// A PING on the subscriber returns after every message published before it was sent.
			await subscriber.ping();
			expect(heard).toEqual([
				"published-session",
				"published-session",
				"published-session",
				HEARTBEAT_MESSAGE,
			]);
		} finally {
			await store.close();
			subscriber.disconnect();
			await dropPrefix();
		}
	});
});
