/**
 * Leased jobs run once per cluster: two instances (each with its own connection pool, as two processes
 * would have) share one database and tick together; a due job runs on exactly one of them per interval.
 */
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JobRunner } from "../../src/jobs/job-runner.ts";
import { ManualClock } from "../../src/lib/clock.ts";
import { JobLeases, openSqlDatabase, type SqlDatabase } from "../../src/storage/index.ts";
import { type SqlFixture, sqlBackends } from "../support/sql-backends.ts";

const silent = pino({ level: "silent" });

for (const backend of sqlBackends()) {
	describe.skipIf(backend.skipReason !== null)(`leased jobs on ${backend.name}`, () => {
		let fixture: SqlFixture;
		let secondInstance: SqlDatabase;

		beforeAll(async () => {
			fixture = await backend.open();
			secondInstance =
				fixture.url === undefined
					? openSqlDatabase({ kind: "sqlite", path: `${fixture.dataDir}/tollgate.db` })
					: openSqlDatabase({ kind: "postgres", url: fixture.url, poolMax: 5 });
		});
		afterAll(async () => {
			await secondInstance.close();
			await fixture.cleanup();
		});

		function twoInstances(
			jobName: string,
			clock: ManualClock,
			onRun: (instance: string) => Promise<void>,
		) {
			return [fixture.database, secondInstance].map((database, index) => {
				const runner = new JobRunner({
					leases: new JobLeases(database.db),
					clock,
					logger: silent,
					holder: `instance-${index}`,
				});
				runner.register({
					name: jobName,
					intervalMs: 10_000,
					run: () => onRun(`instance-${index}`),
				});
				return runner;
			});
		}

		it("runs a due job on exactly one of two instances per interval", async () => {
			const clock = new ManualClock();
			const runs: string[] = [];
			const runners = twoInstances("sweep-once", clock, async (instance) => {
				runs.push(instance);
			});
			for (let interval = 0; interval < 5; interval += 1) {
				await Promise.all(runners.map((runner) => runner.tick()));
				await Promise.all(runners.map((runner) => runner.tick()));
				expect(runs).toHaveLength(interval + 1);
				clock.advanceMs(10_000);
			}
		});

		it("does not start a second run while the first still holds the lease", async () => {
			const clock = new ManualClock();
			let release: () => void = () => {};
			const blocker = new Promise<void>((resolve) => {
				release = resolve;
			});
			let markStarted: () => void = () => {};
			const started = new Promise<void>((resolve) => {
				markStarted = resolve;
			});
			const runs: string[] = [];
			const [first, second] = twoInstances("long-job", clock, async (instance) => {
				runs.push(instance);
				markStarted();
				await blocker;
			});
			const firstTick = first?.tick();
			await started;
			clock.advanceMs(20_000);
			await second?.tick();
			expect(runs).toHaveLength(1);
			release();
			await firstTick;
			await second?.tick();
			expect(runs).toHaveLength(2);
		});

		it("lets another instance take over once a crashed holder's lease expires", async () => {
			const clock = new ManualClock();
			const leases = new JobLeases(fixture.database.db);
			expect(
				await leases.claimDueRun({
					jobName: "crashy",
					holder: "crashed-instance",
					nowMs: clock.nowMs(),
					leaseMs: 30_000,
					intervalMs: 10_000,
				}),
			).toBe(true);
			const runs: string[] = [];
			const [, survivor] = twoInstances("crashy", clock, async (instance) => {
				runs.push(instance);
			});
			clock.advanceMs(15_000);
			await survivor?.tick();
			expect(runs).toEqual([]);
			clock.advanceMs(20_000);
			await survivor?.tick();
			expect(runs).toEqual(["instance-1"]);
		});

		it("records a failed run and still runs the job at the next interval", async () => {
			const clock = new ManualClock();
			let attempts = 0;
			const [runner] = twoInstances("flaky", clock, async () => {
				attempts += 1;
				if (attempts === 1) throw new Error("upstream down");
			});
			await runner?.tick();
			const row = await fixture.database.db
				.selectFrom("job_leases")
				.selectAll()
				.where("job_name", "=", "flaky")
				.executeTakeFirstOrThrow();
			expect(row.last_error).toBe("upstream down");
			clock.advanceMs(10_000);
			await runner?.tick();
			expect(attempts).toBe(2);
		});
	});
}
