/**
 * Scale-out on real engines: two `tollgate serve` processes share one PostgreSQL database and one Redis,
 * agree on the service key, and a leased background job runs once for the pair, not once per process.
 * Then a private Redis server is stopped and restarted under a running service: /readyz follows it.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { runTollgate, type ServingProcess, serveTollgate } from "../support/cli.ts";
import {
	createTestPostgresDatabase,
	createTestRedisPrefix,
	postgresAdminUrl,
	redisUrl,
} from "../support/engines.ts";
import { PrivateRedis } from "../support/redis-server.ts";

const adminUrl = postgresAdminUrl();
const sharedRedisUrl = redisUrl();

async function jobRuns(service: ServingProcess, job: string): Promise<number> {
	const metrics = await (await fetch(`${service.url}/metrics`)).text();
	const match = new RegExp(`tollgate_job_runs_total\\{job="${job}",outcome="ok"\\} (\\d+)`).exec(
		metrics,
	);
	return Number(match?.[1] ?? 0);
}

describe.skipIf(adminUrl === null || sharedRedisUrl === null)(
	"two instances on one PostgreSQL and Redis",
	() => {
		it("share the service key and run a leased job once between them", async () => {
			const database = await createTestPostgresDatabase(adminUrl ?? "");
			const prefix = createTestRedisPrefix(sharedRedisUrl ?? "");
			const env = {
				TOLLGATE_DATABASE_URL: database.url,
				TOLLGATE_KV_URL: sharedRedisUrl ?? "",
				TOLLGATE_KV_KEY_PREFIX: prefix.prefix,
				TOLLGATE_BLOBS_BACKEND: "database",
			};
			const instances = await Promise.all([serveTollgate(env), serveTollgate(env)]);
			try {
				for (const instance of instances)
					expect((await fetch(`${instance.url}/readyz`)).status).toBe(200);
				const [first, second] = await Promise.all([
					runTollgate(["keys", "show"], env),
					runTollgate(["keys", "show"], env),
				]);
				expect(second.stdout).toBe(first.stdout);

				const job = "blobs.sweep-unreferenced-chunks";
				const total = async () =>
					(await Promise.all(instances.map((instance) => jobRuns(instance, job)))).reduce(
						(a, b) => a + b,
					);
				for (let waited = 0; (await total()) === 0 && waited < 10_000; waited += 200)
					await sleep(200);
				await sleep(2_500);
				expect(await total()).toBe(1);
			} finally {
				expect(await Promise.all(instances.map((instance) => instance.stop()))).toEqual([0, 0]);
				await database.drop();
				await prefix.drop();
			}
		}, 60_000);
	},
);

describe.skipIf(sharedRedisUrl === null)("when Redis goes away", () => {
	it("/readyz turns 503 and recovers without a restart when Redis returns", async () => {
		const dataDir = await mkdtemp(join(tmpdir(), "tollgate-redis-down-"));
		const redis = await PrivateRedis.start();
		const service = await serveTollgate({ TOLLGATE_KV_URL: redis.url, TOLLGATE_DATA_DIR: dataDir });
		try {
			expect((await fetch(`${service.url}/readyz`)).status).toBe(200);
			await redis.stop();
			const down = await fetch(`${service.url}/readyz`);
			expect(down.status).toBe(503);
			expect(await down.json()).toEqual({
				status: "unavailable",
				checks: { database: "ok", kv: "unavailable" },
			});
			await redis.restart();
			let status = 0;
			for (let waited = 0; status !== 200 && waited < 10_000; waited += 250) {
				await sleep(250);
				status = (await fetch(`${service.url}/readyz`)).status;
			}
			expect(status).toBe(200);
		} finally {
			expect(await service.stop()).toBe(0);
			await redis.stop();
			await rm(dataDir, { recursive: true, force: true });
		}
	}, 60_000);
});
