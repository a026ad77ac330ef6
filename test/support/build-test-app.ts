/** An app on real storage in a throw-away data dir, with its log lines captured for assertions. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { type App, buildApp } from "../../src/app.ts";
import { type Config, loadConfig } from "../../src/config/index.ts";
import { createLogger } from "../../src/http/logger.ts";
import type { JobDefinition } from "../../src/jobs/job-runner.ts";
import { loadServiceKeys } from "../../src/keys/service-keys.ts";
import { ManualClock } from "../../src/lib/clock.ts";
import { migrateToLatest, openStorage, type Storage } from "../../src/storage/index.ts";
import { createTestPostgresDatabase, postgresAdminUrl } from "./engines.ts";

export interface TestApp {
	readonly app: App;
	readonly config: Config;
	readonly storage: Storage;
	readonly clock: ManualClock;
	/** Background jobs the modules registered (run them by hand: tests drive time). */
	readonly jobs: readonly JobDefinition[];
	/** Every log line written so far, parsed. */
	logs(): Record<string, unknown>[];
	close(): Promise<void>;
}

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
	const logger = createLogger(config, sink);
	const clock = new ManualClock();
	const storage = await openStorage(config, clock, logger);
	await migrateToLatest(storage.sql);
	const keys = await loadServiceKeys({
		isDev: config.dev,
		keyFile: undefined,
		legacyX25519File: config.keys.x25519_legacy_file,
		db: storage.sql.db,
		clock,
		logger,
	});
	const jobs: JobDefinition[] = [];
	const app = await buildApp(config, {
		storage,
		keys,
		clock,
		logger,
		registerJob: (job) => jobs.push(job),
	});
	return {
		app,
		config,
		storage,
		clock,
		jobs,
		logs: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
		close: async () => {
			await app.close();
			await storage.close();
			await rm(dataDir, { recursive: true, force: true });
		},
	};
}

export interface AppBackend {
	readonly name: "SQLite" | "PostgreSQL";
	/** PostgreSQL is skipped (outside CI) when no server answers. */
	readonly skip: boolean;
}

/** The SQL engines an app-level suite runs on: SQLite always, PostgreSQL where one is reachable. */
export function appBackends(): AppBackend[] {
	return [
		{ name: "SQLite", skip: false },
		{ name: "PostgreSQL", skip: postgresAdminUrl() === null },
	];
}

/** buildTestApp on the backend's engine: on PostgreSQL a fresh database, dropped again on close. */
export async function buildTestAppOn(
	backend: AppBackend,
	overrides: Record<string, unknown> = {},
): Promise<TestApp> {
	if (backend.name === "SQLite") return buildTestApp(overrides);
	const database = await createTestPostgresDatabase(postgresAdminUrl() ?? "");
	const testApp = await buildTestApp({ ...overrides, database: { url: database.url } });
	return {
		...testApp,
		close: async () => {
			await testApp.close();
			await database.drop();
		},
	};
}
