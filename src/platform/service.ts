/**
 * The one composition root, used by `tollgate serve`, the test helper and the bench server: storage →
 * migrations → service keys → app with every enabled module → listen → leased jobs; and the reverse on
 * stop: stop the jobs, stop accepting and finish in-flight requests, close the stores.
 */
import type { Logger } from "pino";
import { Registry } from "prom-client";
import { type Clock, systemClock } from "#lib/clock";
import { createLogger } from "../http/logger.ts";
import { type JobDefinition, JobRunner } from "../jobs/job-runner.ts";
import { loadConfiguredServiceKeys, type ServiceKeys } from "../keys/service-keys.ts";
import { openStorage, type Storage } from "../storage/index.ts";
import { type App, buildApp } from "./app.ts";
import { migrateStorage } from "./migrations.ts";
import type { SectionedConfig } from "./modules.ts";

export interface ServiceOverrides {
	readonly clock?: Clock;
	readonly logger?: Logger;
	/** Listen on http.host:http.port (default). Off: use inject(), or add routes and listen yourself. */
	readonly listen?: boolean;
	/** Run the leased background jobs (default: jobs.enabled, when listening). Tests run them by hand. */
	readonly startJobs?: boolean;
}

export interface RunningService {
	readonly app: App;
	readonly storage: Storage;
	readonly keys: ServiceKeys;
	readonly jobs: JobRunner;
	/** Every background job registered: the engines' maintenance and the modules' jobs. */
	readonly jobDefinitions: readonly JobDefinition[];
	/** Base URL the service listens on, e.g. http://127.0.0.1:8080; undefined when not listening. */
	readonly url: string | undefined;
	stop(): Promise<void>;
}

export async function startService(
	config: SectionedConfig,
	overrides: ServiceOverrides = {},
): Promise<RunningService> {
	const clock = overrides.clock ?? systemClock;
	const logger = overrides.logger ?? createLogger(config);
	const storage = await openStorage(config, clock, logger);
	try {
		const { applied } = await migrateStorage(storage);
		if (applied.length > 0) logger.info({ applied }, "database migrated");
		const keys = await loadConfiguredServiceKeys(config, storage.secrets, clock, logger);
		const registry = new Registry();
		const jobs = new JobRunner({ leases: storage.leases, clock, logger, registry });
		const jobDefinitions: JobDefinition[] = [];
		const registerJob = (job: JobDefinition) => {
			jobs.register(job);
			jobDefinitions.push(job);
		};
		for (const task of storage.maintenance) registerJob(task);
		const app = await buildApp(config, { storage, keys, clock, logger, registry, registerJob });
		const isListening = overrides.listen ?? true;
		const url = isListening
			? await app.listen({ host: config.http.host, port: config.http.port })
			: undefined;
		if (overrides.startJobs ?? (isListening && config.jobs.enabled)) jobs.start();
		return {
			app,
			storage,
			keys,
			jobs,
			jobDefinitions,
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
