/**
 * Background jobs (expiry sweeps, pruning, polling) that run once per cluster: every instance ticks,
 * and a run happens only where the shared lease is claimed (see storage/kysely/job-leases.ts). A run
 * that outlives its lease is aborted through its signal, because another instance may then claim it.
 * While the database cannot be reached, or a job keeps failing, this instance backs off (doubling, up
 * to a minute, or the job's interval if longer) and says so once, not on every tick.
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { Counter, type Registry } from "prom-client";
import { AppError } from "#errors";
import type { Clock } from "#lib/clock";
import type { JobLeases } from "../storage/index.ts";

export interface JobContext {
	readonly signal: AbortSignal;
	readonly nowMs: number;
}

export interface JobDefinition {
	/** Stable name: it keys the lease row shared by every instance. */
	readonly name: string;
	readonly intervalMs: number;
	/** How long one run may go unrenewed before others assume its instance died; default max(30 s, interval). */
	readonly leaseMs?: number;
	run(context: JobContext): Promise<void>;
}

export interface JobRunnerOptions {
	readonly leases: Pick<JobLeases, "claimDueRun" | "renew" | "release">;
	readonly clock: Clock;
	readonly logger: Logger;
	readonly registry?: Registry;
	/** Identifies this instance in the lease table; random per process by default. */
	readonly holder?: string;
	/** How often the timer started by `start()` looks for due jobs. */
	readonly pollMs?: number;
}

const FIRST_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 60_000;

/** Consecutive failures of one thing (claiming leases, or one job's runs) and when to try it again. */
class Backoff {
	failures = 0;
	notBeforeMs = 0;

	isWaiting(nowMs: number): boolean {
		return nowMs < this.notBeforeMs;
	}

	/** Returns whether this failure starts a new streak (the one worth a log line at full detail). */
	failed(nowMs: number, ceilingMs: number): boolean {
		this.failures += 1;
		this.notBeforeMs = nowMs + Math.min(FIRST_BACKOFF_MS * 2 ** (this.failures - 1), ceilingMs);
		return this.failures === 1;
	}

	/** Returns whether a streak of failures just ended. */
	succeeded(): boolean {
		const hadFailed = this.failures > 0;
		this.failures = 0;
		this.notBeforeMs = 0;
		return hadFailed;
	}
}

const isUnavailable = (error: unknown) =>
	error instanceof AppError && error.code === "service_unavailable";

function reasonOf(error: unknown): string {
	const cause = error instanceof AppError ? error.cause : error;
	return cause instanceof Error ? cause.message : String(cause);
}

export class JobRunner {
	readonly holder: string;
	readonly #options: JobRunnerOptions;
	readonly #jobs = new Map<string, JobDefinition>();
	readonly #running = new Map<string, { controller: AbortController; done: Promise<void> }>();
	readonly #runsTotal: Counter<"job" | "outcome"> | undefined;
	readonly #claimBackoff = new Backoff();
	readonly #runBackoff = new Map<string, Backoff>();
	#timer: NodeJS.Timeout | undefined;
	#ticking: Promise<void> | undefined;

	constructor(options: JobRunnerOptions) {
		this.#options = options;
		this.holder = options.holder ?? randomUUID();
		this.#runsTotal =
			options.registry === undefined
				? undefined
				: new Counter({
						name: "tollgate_job_runs_total",
						help: "Background job runs started by this instance, by outcome.",
						labelNames: ["job", "outcome"],
						registers: [options.registry],
					});
	}

	register(job: JobDefinition): void {
		if (this.#jobs.has(job.name)) throw new Error(`job ${job.name} is registered twice`);
		this.#jobs.set(job.name, job);
	}

	get jobNames(): string[] {
		return [...this.#jobs.keys()];
	}

	start(): void {
		if (this.#timer !== undefined) return;
		this.#timer = setInterval(() => {
			this.#ticking ??= this.tick().finally(() => {
				this.#ticking = undefined;
			});
		}, this.#options.pollMs ?? 1_000);
		this.#timer.unref();
	}

	/** Claims and runs every due job not already running here; resolves when those runs end. */
	async tick(): Promise<void> {
		const { clock, logger } = this.#options;
		if (this.#claimBackoff.isWaiting(clock.nowMs())) return;
		const started: Promise<void>[] = [];
		for (const job of this.#jobs.values()) {
			if (this.#running.has(job.name) || this.#runBackoffOf(job).isWaiting(clock.nowMs())) continue;
			let claimed: boolean;
			try {
				claimed = await this.#options.leases.claimDueRun({
					jobName: job.name,
					holder: this.holder,
					nowMs: clock.nowMs(),
					leaseMs: this.#leaseMs(job),
					intervalMs: job.intervalMs,
				});
			} catch (error) {
				if (this.#claimBackoff.failed(clock.nowMs(), MAX_BACKOFF_MS))
					logger.warn(
						{ job: job.name, reason: reasonOf(error) },
						"job leases cannot be claimed; background jobs wait until the database answers",
					);
				break;
			}
			if (this.#claimBackoff.succeeded()) logger.info("job leases can be claimed again");
			if (claimed) started.push(this.#runClaimed(job));
		}
		await Promise.all(started);
	}

	#runBackoffOf(job: JobDefinition): Backoff {
		let backoff = this.#runBackoff.get(job.name);
		if (backoff === undefined) {
			backoff = new Backoff();
			this.#runBackoff.set(job.name, backoff);
		}
		return backoff;
	}

	/** Logs a failed run: an unreachable store once per streak and without a stack, other faults in full. */
	#reportRunFailure(job: JobDefinition, error: unknown): void {
		const { clock, logger } = this.#options;
		const isNewStreak = this.#runBackoffOf(job).failed(
			clock.nowMs(),
			Math.max(MAX_BACKOFF_MS, job.intervalMs),
		);
		if (!isUnavailable(error)) logger.error({ err: error, job: job.name }, "job run failed");
		else if (isNewStreak)
			logger.warn(
				{ job: job.name, reason: reasonOf(error) },
				"job run failed: store unreachable; retrying with backoff",
			);
	}

	/** Runs one job now on this instance, ignoring its schedule (operators' `sweep` commands). */
	async runNow(name: string): Promise<void> {
		const job = this.#jobs.get(name);
		if (job === undefined) throw new Error(`no job named ${name}`);
		await job.run({ signal: new AbortController().signal, nowMs: this.#options.clock.nowMs() });
	}

	/** Stops polling, aborts runs in progress and waits for them to release their leases. */
	async stop(): Promise<void> {
		clearInterval(this.#timer);
		this.#timer = undefined;
		for (const { controller } of this.#running.values()) controller.abort();
		await Promise.all([...this.#running.values()].map((run) => run.done));
		await this.#ticking;
	}

	#leaseMs(job: JobDefinition): number {
		return job.leaseMs ?? Math.max(30_000, job.intervalMs);
	}

	#runClaimed(job: JobDefinition): Promise<void> {
		const { leases, clock, logger } = this.#options;
		const controller = new AbortController();
		const leaseMs = this.#leaseMs(job);
		const renewal = setInterval(() => {
			leases
				.renew(job.name, this.holder, clock.nowMs() + leaseMs)
				.then((isStillHeld) => {
					if (!isStillHeld) controller.abort(new Error("lease lost"));
				})
				.catch((error: unknown) =>
					logger.warn({ job: job.name, reason: reasonOf(error) }, "job lease renewal failed"),
				);
		}, leaseMs / 3);
		renewal.unref();
		const done = (async () => {
			let failure: string | null = null;
			try {
				await job.run({ signal: controller.signal, nowMs: clock.nowMs() });
				if (this.#runBackoffOf(job).succeeded())
					logger.info({ job: job.name }, "job runs again after failures");
			} catch (error) {
				failure = error instanceof Error ? error.message : String(error);
				this.#reportRunFailure(job, error);
			} finally {
				clearInterval(renewal);
				this.#running.delete(job.name);
			}
			this.#runsTotal?.inc({ job: job.name, outcome: failure === null ? "ok" : "error" });
			await leases
				.release(job.name, this.holder, clock.nowMs(), failure)
				.catch((error: unknown) =>
					logger.warn({ job: job.name, reason: reasonOf(error) }, "job lease release failed"),
				);
		})();
		this.#running.set(job.name, { controller, done });
		return done;
	}
}
