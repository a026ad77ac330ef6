/** The embedded store is safe for several processes on one machine, and its sweep frees expired rows. */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, expect, it } from "vitest";
import { ManualClock, systemClock } from "../../src/lib/clock.ts";
import { EmbeddedKeyValueStore } from "../../src/storage/embedded/embedded-key-value-store.ts";

const run = promisify(execFile);
const WORKER = new URL("../support/processes/embedded-kv-worker.ts", import.meta.url).pathname;
let dir: string;

beforeEach(async () => {
	dir = await mkdtemp(join(tmpdir(), "tollgate-kv-processes-"));
});
afterEach(async () => {
	await rm(dir, { recursive: true, force: true });
});

it("loses no increment and hands each single-use value to one process when four processes race", async () => {
	const path = join(dir, "kv.db");
	const increments = 150;
	const setup = new EmbeddedKeyValueStore(path, systemClock);
	for (let index = 0; index < increments; index += 1)
		await setup.set(`ticket-${index}`, "one-time");
	const outputs = await Promise.all(
		Array.from({ length: 4 }, () =>
			run(process.execPath, ["--import", "tsx", WORKER, path, String(increments)]),
		),
	);
	const results = outputs.map(
		({ stdout }) => JSON.parse(stdout) as { consumed: number; setIfAbsentWins: number },
	);
	expect(await setup.get("counter")).toBe(String(4 * increments));
	expect(results.reduce((sum, result) => sum + result.consumed, 0)).toBe(increments);
	expect(results.reduce((sum, result) => sum + result.setIfAbsentWins, 0)).toBe(increments);
	await setup.close();
}, 60_000);

it("keeps its data across a restart", async () => {
	const path = join(dir, "kv.db");
	const before = new EmbeddedKeyValueStore(path, systemClock);
	await before.set("session", "alive");
	await before.addToSet("groups", ["staff"]);
	await before.close();
	const after = new EmbeddedKeyValueStore(path, systemClock);
	expect(await after.get("session")).toBe("alive");
	expect(await after.setMembers("groups")).toEqual(["staff"]);
	await after.close();
});

it("sweepExpired deletes expired keys in bounded batches and keeps live ones", async () => {
	const clock = new ManualClock();
	const store = new EmbeddedKeyValueStore(join(dir, "kv.db"), clock);
	for (let index = 0; index < 5; index += 1)
		await store.set(`expiring-${index}`, "v", { ttlMs: 1_000 });
	await store.addToSet("expiring-set", ["a", "b"], { ttlMs: 1_000 });
	await store.set("lasting", "v");
	clock.advanceMs(2_000);
	expect(store.sweepExpired(4)).toBe(4);
	expect(store.sweepExpired(4)).toBe(2);
	expect(store.sweepExpired(4)).toBe(0);
	expect(await store.get("lasting")).toBe("v");
	await store.close();
});
