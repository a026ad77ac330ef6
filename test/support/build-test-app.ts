/**
 * An app on real storage in a throw-away data dir, started by the service's own composition root (not
 * listening, jobs not running: tests drive time and run jobs by hand), with its log lines captured.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { createLogger } from "../../src/http/logger.ts";
import type { JobDefinition } from "../../src/jobs/job-runner.ts";
import type { ServiceKeys } from "../../src/keys/service-keys.ts";
import { ManualClock } from "../../src/lib/clock.ts";
import type { App } from "../../src/platform/app.ts";
import { type Config, loadConfig } from "../../src/platform/config.ts";
import { startService } from "../../src/platform/service.ts";
import type { Storage } from "../../src/storage/index.ts";
import { createTestPostgresDatabase, postgresAdminUrl } from "./engines.ts";

export interface TestApp {
	readonly app: App;
	readonly config: Config;
	readonly storage: Storage;
	/** The service keys it runs with (the dev key in dev mode, else the one made on first start). */
	readonly keys: ServiceKeys;
	readonly clock: ManualClock;
	/** Background jobs the engines and modules registered (run them by hand: tests drive time). */
	readonly jobs: readonly JobDefinition[];
	/** Every log line written so far, parsed. */
	logs(): Record<string, unknown>[];
	close(): Promise<void>;
}

/** Dev mode unless the overrides say otherwise (`dev: false`: a service key made on first start). */
export async function buildTestApp(
	overrides: Record<string, unknown> = {},
	env: NodeJS.ProcessEnv = {},
): Promise<TestApp> {
	const dataDir = await mkdtemp(join(tmpdir(), "tollgate-app-"));
	const config = loadConfig({ env, overrides: { data_dir: dataDir, dev: true, ...overrides } });
	const lines: string[] = [];
	const sink = new Writable({
		write(chunk: Buffer, _encoding, done) {
			lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
			done();
		},
	});
	const clock = new ManualClock();
	const service = await startService(config, {
		clock,
		logger: createLogger(config, sink),
		listen: false,
		startJobs: false,
	});
	return {
		app: service.app,
		config,
		storage: service.storage,
		keys: service.keys,
		clock,
		jobs: service.jobDefinitions,
		logs: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
		close: async () => {
			await service.stop();
			await rm(dataDir, { recursive: true, force: true });
		},
	};
}

export interface AppBackend {
	readonly name: "SQLite" | "PostgreSQL";
	/** PostgreSQL is skipped (outside CI) when no server answers. */
	readonly skip: boolean;
	/** Dev mode (the public dev key); off, the service makes its key on first start, as production runs. */
	readonly isDev: boolean;
}

/**
 * The SQL engines an app-level suite runs on: SQLite in dev mode always, and PostgreSQL, where one is
 * reachable, outside dev mode (a service key and secrets made on first start), as production runs.
 */
export function appBackends(): AppBackend[] {
	return [
		{ name: "SQLite", skip: false, isDev: true },
		{ name: "PostgreSQL", skip: postgresAdminUrl() === null, isDev: false },
	];
}

/** buildTestApp on the backend's engine: on PostgreSQL a fresh database, dropped again on close. */
export async function buildTestAppOn(
	backend: AppBackend,
	overrides: Record<string, unknown> = {},
): Promise<TestApp> {
	const withMode = { dev: backend.isDev, ...overrides };
	if (backend.name === "SQLite") return buildTestApp(withMode);
	const database = await createTestPostgresDatabase(postgresAdminUrl() ?? "");
	const testApp = await buildTestApp({ ...withMode, database: { url: database.url } });
	return {
		...testApp,
		close: async () => {
			await testApp.close();
			await database.drop();
		},
	};
}
