/**
 * The running service: storage → migrations → keys → app → listen → leased jobs; and the reverse on
 * SIGTERM/SIGINT: stop polling jobs, stop accepting, finish in-flight requests, close pools, exit 0.
 */
import type { Logger } from "pino";
import { Registry } from "prom-client";
import type { Config } from "#config";
import { type Clock, systemClock } from "#lib/clock";
import { type App, buildApp } from "./app.ts";
import { JobRunner } from "./jobs/job-runner.ts";
import { loadConfiguredServiceKeys } from "./keys/service-keys.ts";
import { JobLeases, migrateToLatest, openStorage } from "./storage/index.ts";

export interface RunningService {
	readonly app: App;
	readonly jobs: JobRunner;
	/** Base URL the service listens on, e.g. http://127.0.0.1:8080. */
	readonly url: string;
	stop(): Promise<void>;
}

export async function startService(
	config: Config,
	logger: Logger,
	clock: Clock = systemClock,
): Promise<RunningService> {
	const storage = await openStorage(config, clock, logger);
	try {
		const { applied } = await migrateToLatest(storage.sql);
		if (applied.length > 0) logger.info({ applied }, "database migrated");
		const keys = await loadConfiguredServiceKeys(config, storage.sql.db, clock, logger);
		const registry = new Registry();
		const jobs = new JobRunner({ leases: new JobLeases(storage.sql.db), clock, logger, registry });
		for (const job of storage.jobs) jobs.register(job);
		const app = await buildApp(config, {
			storage,
			keys,
			clock,
			logger,
			registry,
			registerJob: (job) => jobs.register(job),
		});
		const url = await app.listen({ host: config.http.host, port: config.http.port });
		if (config.jobs.enabled) jobs.start();
		return {
			app,
			jobs,
			url,
			stop: async () => {
				await jobs.stop();
				await app.close();
				await storage.close();
			},
		};
	} catch (error) {
		await storage.close();
		throw error;
	}
}

/** Runs until SIGTERM or SIGINT, then shuts down gracefully within `http.shutdown_timeout_ms`. */
export async function serveUntilSignalled(config: Config, logger: Logger): Promise<void> {
	const service = await startService(config, logger);
	await new Promise<void>((resolve) => {
		const shutDown = (signal: NodeJS.Signals) => {
			logger.info({ signal }, "shutting down");
			const deadline = setTimeout(() => {
				logger.error("in-flight requests did not finish in time; exiting");
				process.exit(1);
			}, config.http.shutdown_timeout_ms);
			deadline.unref();
			service.stop().then(resolve, (error: unknown) => {
				logger.error({ err: error }, "shutdown failed");
				process.exit(1);
			});
		};
		process.once("SIGTERM", shutDown);
		process.once("SIGINT", shutDown);
	});
}
