import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { AppError } from "#errors";
import { ManualClock } from "#lib/clock";
import { type JobDefinition, JobRunner, type JobRunnerOptions } from "./job-runner.ts";

type Leases = JobRunnerOptions["leases"];

function capturedLogger() {
	const lines: Record<string, unknown>[] = [];
	const logger = pino(
		{ level: "info" },
		{ write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
	);
	return { logger, lines };
}

const unreachable = () =>
	new AppError("service_unavailable", { cause: new Error("connect ECONNREFUSED 127.0.0.1:5432") });

/** Leases that fail while `isDown()`, and otherwise grant every claim. */
function leasesThatFailWhile(isDown: () => boolean): Leases & { claims: number } {
	const leases = {
		claims: 0,
		claimDueRun: async () => {
			leases.claims += 1;
			if (isDown()) throw unreachable();
			return true;
		},
		renew: async () => true,
		release: async () => {},
	};
	return leases;
}

describe("JobRunner while the database is unreachable", () => {
	/** @see issue 11: a PostgreSQL outage must not flood the log or hammer the database every tick. */
	it("backs off claiming, doubling up to a minute, logs the outage once and its end once", async () => {
		const clock = new ManualClock();
		let isDown = true;
		const leases = leasesThatFailWhile(() => isDown);
		const { logger, lines } = capturedLogger();
		const runner = new JobRunner({ leases, clock, logger });
		const runs: number[] = [];
		runner.register({ name: "sweep", intervalMs: 5_000, run: async () => void runs.push(1) });

		const claimsAt: number[] = [];
		for (let second = 0; second < 120; second += 1) {
			const before = leases.claims;
			await runner.tick();
			if (leases.claims > before) claimsAt.push(second);
			clock.advanceMs(1_000);
		}
		// 1, 2, 4, 8, 16, 32, then every 60 s.
		expect(claimsAt).toEqual([0, 1, 3, 7, 15, 31, 63]);
		expect(lines.filter((line) => line.level === 40)).toHaveLength(1);
		expect(JSON.stringify(lines)).not.toContain('"stack"');

		isDown = false;
		clock.advanceMs(60_000);
		await runner.tick();
		expect(runs).toHaveLength(1);
		expect(lines.at(-1)).toMatchObject({ level: 30, msg: "job leases can be claimed again" });
	});

	it("backs off a job whose runs fail because a store is unreachable, and resumes it", async () => {
		const clock = new ManualClock();
		const { logger, lines } = capturedLogger();
		let isStoreDown = true;
		let attempts = 0;
		const job: JobDefinition = {
			name: "files.sweep-expired",
			intervalMs: 1_000,
			run: async () => {
				attempts += 1;
				if (isStoreDown) throw unreachable();
			},
		};
		const runner = new JobRunner({ leases: leasesThatFailWhile(() => false), clock, logger });
		runner.register(job);
		for (let second = 0; second < 30; second += 1) {
			await runner.tick();
			clock.advanceMs(1_000);
		}
		expect(attempts).toBe(5);
		expect(lines.filter((line) => Number(line.level) >= 40)).toEqual([
			expect.objectContaining({ level: 40, job: "files.sweep-expired" }),
		]);
		isStoreDown = false;
		clock.advanceMs(60_000);
		await runner.tick();
		expect(attempts).toBe(6);
		expect(lines.at(-1)).toMatchObject({ msg: "job runs again after failures" });
	});

	it("logs any other failure in full, each time", async () => {
		const clock = new ManualClock();
		const { logger, lines } = capturedLogger();
		const runner = new JobRunner({ leases: leasesThatFailWhile(() => false), clock, logger });
		runner.register({
			name: "broken",
			intervalMs: 1_000,
			run: async () => {
				throw new Error("bug");
			},
		});
		await runner.tick();
		clock.advanceMs(120_000);
		await runner.tick();
		const errors = lines.filter((line) => line.level === 50);
		expect(errors).toHaveLength(2);
		expect(JSON.stringify(errors[0])).toContain('"stack"');
	});
});
