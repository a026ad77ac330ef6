/**
 * Cluster-wide job leases in the SQL database every instance shares. A claim is one guarded UPDATE
 * (`… WHERE next_run_at_ms <= now AND lease_until_ms <= now RETURNING`): PostgreSQL re-checks the guard
 * after waiting for a concurrent writer's row lock and SQLite serialises writers, so of N instances
 * ticking at once exactly one wins, and a job runs once per interval, not once per process.
 */
import type { Kysely } from "kysely";
import type { FoundationTables } from "./tables.ts";

export interface JobLeaseClaim {
	readonly jobName: string;
	readonly holder: string;
	readonly nowMs: number;
	readonly leaseMs: number;
	readonly intervalMs: number;
}

export class JobLeases {
	readonly #db: Kysely<FoundationTables>;

	constructor(db: Kysely<FoundationTables>) {
		this.#db = db;
	}

	/** `true` if this holder now owns the lease and the run is due; at most one concurrent caller gets `true`. */
	async claimDueRun(claim: JobLeaseClaim): Promise<boolean> {
		await this.#db
			.insertInto("job_leases")
			.values({ job_name: claim.jobName })
			.onConflict((conflict) => conflict.column("job_name").doNothing())
			.execute();
		const claimed = await this.#db
			.updateTable("job_leases")
			.set({
				holder: claim.holder,
				lease_until_ms: claim.nowMs + claim.leaseMs,
				next_run_at_ms: claim.nowMs + claim.intervalMs,
				last_started_at_ms: claim.nowMs,
			})
			.where("job_name", "=", claim.jobName)
			.where("next_run_at_ms", "<=", claim.nowMs)
			.where("lease_until_ms", "<=", claim.nowMs)
			.returning("job_name")
			.executeTakeFirst();
		return claimed !== undefined;
	}

	/** Extends a lease this holder still owns; `false` if it was lost (it expired and another instance took it). */
	async renew(jobName: string, holder: string, leaseUntilMs: number): Promise<boolean> {
		const renewed = await this.#db
			.updateTable("job_leases")
			.set({ lease_until_ms: leaseUntilMs })
			.where("job_name", "=", jobName)
			.where("holder", "=", holder)
			.returning("job_name")
			.executeTakeFirst();
		return renewed !== undefined;
	}

	async release(
		jobName: string,
		holder: string,
		finishedAtMs: number,
		error: string | null,
	): Promise<void> {
		await this.#db
			.updateTable("job_leases")
			.set({ lease_until_ms: 0, last_finished_at_ms: finishedAtMs, last_error: error })
			.where("job_name", "=", jobName)
			.where("holder", "=", holder)
			.execute();
	}
}
