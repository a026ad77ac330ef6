/**
 * The KeyValueStore contract (src/storage/key-value-store.ts), run unchanged against every backend.
 * Expiry uses real time: Redis keeps its own clock, so the suite waits a few tens of milliseconds.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type KeyValueStore, WrongKindError } from "../../src/storage/index.ts";

export interface KeyValueStoreFixture {
	readonly store: KeyValueStore;
	cleanup(): Promise<void>;
}

export function describeKeyValueStoreContract(
	backend: string,
	open: () => Promise<KeyValueStoreFixture>,
): void {
	describe(`KeyValueStore contract on ${backend}`, () => {
		let fixture: KeyValueStoreFixture;
		let store: KeyValueStore;
		let counter = 0;
		const freshKey = () => `key-${++counter}-${Math.random().toString(36).slice(2)}`;

		beforeAll(async () => {
			fixture = await open();
			store = fixture.store;
		});
		afterAll(async () => {
			await fixture.cleanup();
		});

		it("returns null for a key never written", async () => {
			expect(await store.get(freshKey())).toBeNull();
		});

		it("reads back what it wrote and replaces on a second write", async () => {
			const key = freshKey();
			await store.set(key, "first");
			await store.set(key, "second");
			expect(await store.get(key)).toBe("second");
		});

		it("keeps values byte-exact, including JSON and non-ASCII text", async () => {
			const key = freshKey();
			const value = JSON.stringify({ name: "Zoë 🦊", groups: ["a", "b"], nested: { n: 1 } });
			await store.set(key, value);
			expect(await store.get(key)).toBe(value);
		});

		it("hides a value once its TTL has passed", async () => {
			const key = freshKey();
			await store.set(key, "short-lived", { ttlMs: 40 });
			expect(await store.get(key)).toBe("short-lived");
			await sleep(80);
			expect(await store.get(key)).toBeNull();
			expect(await store.ttlMs(key)).toBeNull();
		});

		it("reports the remaining TTL, and Infinity for a key without one", async () => {
			const expiring = freshKey();
			const lasting = freshKey();
			await store.set(expiring, "v", { ttlMs: 60_000 });
			await store.set(lasting, "v");
			const remaining = await store.ttlMs(expiring);
			expect(remaining).toBeGreaterThan(55_000);
			expect(remaining).toBeLessThanOrEqual(60_000);
			expect(await store.ttlMs(lasting)).toBe(Number.POSITIVE_INFINITY);
		});

		it("a plain set clears an earlier TTL", async () => {
			const key = freshKey();
			await store.set(key, "v", { ttlMs: 60_000 });
			await store.set(key, "w");
			expect(await store.ttlMs(key)).toBe(Number.POSITIVE_INFINITY);
		});

		it("expire sets and clears a TTL on an existing key only", async () => {
			const key = freshKey();
			expect(await store.expire(key, 1_000)).toBe(false);
			await store.set(key, "v");
			expect(await store.expire(key, 30_000)).toBe(true);
			expect(await store.ttlMs(key)).toBeLessThanOrEqual(30_000);
			expect(await store.expire(key, null)).toBe(true);
			expect(await store.ttlMs(key)).toBe(Number.POSITIVE_INFINITY);
		});

		it("setIfAbsent writes once and refuses while the key lives", async () => {
			const key = freshKey();
			expect(await store.setIfAbsent(key, "first", { ttlMs: 40 })).toBe(true);
			expect(await store.setIfAbsent(key, "second")).toBe(false);
			expect(await store.get(key)).toBe("first");
			await sleep(80);
			expect(await store.setIfAbsent(key, "third")).toBe(true);
			expect(await store.get(key)).toBe("third");
		});

		it("setIfAbsent lets exactly one of many concurrent callers win", async () => {
			const key = freshKey();
			const outcomes = await Promise.all(
				Array.from({ length: 20 }, (_, index) => store.setIfAbsent(key, `caller-${index}`)),
			);
			expect(outcomes.filter(Boolean)).toHaveLength(1);
		});

		it("consume returns the value once, then null", async () => {
			const key = freshKey();
			await store.set(key, "one-time");
			expect(await store.consume(key)).toBe("one-time");
			expect(await store.consume(key)).toBeNull();
			expect(await store.get(key)).toBeNull();
		});

		it("consume hands a value to exactly one of many concurrent callers", async () => {
			const key = freshKey();
			await store.set(key, "login-state");
			const results = await Promise.all(Array.from({ length: 20 }, () => store.consume(key)));
			expect(results.filter((result) => result === "login-state")).toHaveLength(1);
		});

		it("consume of an expired value returns null", async () => {
			const key = freshKey();
			await store.set(key, "stale", { ttlMs: 30 });
			await sleep(70);
			expect(await store.consume(key)).toBeNull();
		});

		it("delete reports whether the key existed, for values and sets", async () => {
			const value = freshKey();
			const set = freshKey();
			await store.set(value, "v");
			await store.addToSet(set, ["a"]);
			expect(await store.delete(value)).toBe(true);
			expect(await store.delete(set)).toBe(true);
			expect(await store.delete(value)).toBe(false);
			expect(await store.isSetMember(set, "a")).toBe(false);
		});

		it("increment counts from zero and never loses concurrent increments", async () => {
			const key = freshKey();
			expect(await store.increment(key)).toBe(1);
			await Promise.all(Array.from({ length: 50 }, () => store.increment(key)));
			expect(await store.increment(key, { by: 10 })).toBe(61);
		});

		it("increment sets the TTL only when it creates the counter (a fixed window)", async () => {
			const key = freshKey();
			await store.increment(key, { ttlMs: 60 });
			await sleep(30);
			await store.increment(key, { ttlMs: 60_000 });
			expect(await store.ttlMs(key)).toBeLessThanOrEqual(60);
			await sleep(70);
			expect(await store.get(key)).toBeNull();
			expect(await store.increment(key)).toBe(1);
		});

		it("increment of a non-integer value is refused", async () => {
			const key = freshKey();
			await store.set(key, "not a number");
			await expect(store.increment(key)).rejects.toBeInstanceOf(WrongKindError);
		});

		it("sets add, test and list members, ignoring duplicates", async () => {
			const key = freshKey();
			await store.addToSet(key, ["admins", "staff"]);
			await store.addToSet(key, ["staff", "readers"]);
			expect((await store.setMembers(key)).sort()).toEqual(["admins", "readers", "staff"]);
			expect(await store.isSetMember(key, "staff")).toBe(true);
			expect(await store.isSetMember(key, "guests")).toBe(false);
		});

		it("a set emptied by removeFromSet no longer exists", async () => {
			const key = freshKey();
			await store.addToSet(key, ["a", "b"]);
			await store.removeFromSet(key, ["a", "b", "never-there"]);
			expect(await store.setMembers(key)).toEqual([]);
			expect(await store.ttlMs(key)).toBeNull();
		});

		it("a set expires whole with its TTL", async () => {
			const key = freshKey();
			await store.addToSet(key, ["a"], { ttlMs: 40 });
			expect(await store.isSetMember(key, "a")).toBe(true);
			await sleep(80);
			expect(await store.isSetMember(key, "a")).toBe(false);
			await store.addToSet(key, ["b"]);
			expect(await store.setMembers(key)).toEqual(["b"]);
		});

		it("set operations on a value, and value reads of a set, are refused", async () => {
			const value = freshKey();
			const set = freshKey();
			await store.set(value, "v");
			await store.addToSet(set, ["m"]);
			await expect(store.addToSet(value, ["m"])).rejects.toBeInstanceOf(WrongKindError);
			await expect(store.get(set)).rejects.toBeInstanceOf(WrongKindError);
			await expect(store.consume(set)).rejects.toBeInstanceOf(WrongKindError);
		});

		it("a plain set replaces a set", async () => {
			const key = freshKey();
			await store.addToSet(key, ["m"]);
			await store.set(key, "v");
			expect(await store.get(key)).toBe("v");
		});

		it("ping answers while the store is up", async () => {
			await expect(store.ping()).resolves.toBeUndefined();
		});
	});
}
