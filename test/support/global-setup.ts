/**
 * Probes PostgreSQL and Redis once per run. In CI (CI=true) a missing engine fails the run; elsewhere the
 * suites that need it are skipped, and this prints which and why.
 */
import { Redis } from "ioredis";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { ensureBuilt } from "../../bin/build.js";
import { DEFAULT_POSTGRES_URL, DEFAULT_REDIS_URL } from "./engines.ts";

async function reachPostgres(url: string): Promise<string | null> {
	const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
	try {
		await client.connect();
		await client.query("select 1");
		return null;
	} catch (error) {
		return error instanceof Error ? error.message : String(error);
	} finally {
		await client.end().catch(() => {});
	}
}

async function reachRedis(url: string): Promise<string | null> {
	const redis = new Redis(url, {
		lazyConnect: true,
		connectTimeout: 2_000,
		maxRetriesPerRequest: 0,
		retryStrategy: () => null,
	});
	redis.on("error", () => {});
	try {
		await redis.connect();
		await redis.ping();
		return null;
	} catch (error) {
		return error instanceof Error ? error.message : String(error);
	} finally {
		redis.disconnect();
	}
}

export default async function setup(project: TestProject): Promise<void> {
	const isCi = process.env.CI === "true";
	// The service under test serves the built identity pages: build them (and the CLI) once, here.
	await ensureBuilt();
	const postgresUrl = process.env.TEST_DATABASE_URL ?? DEFAULT_POSTGRES_URL;
	const redisUrl = process.env.TEST_REDIS_URL ?? DEFAULT_REDIS_URL;
	const [postgresProblem, redisProblem] = await Promise.all([
		reachPostgres(postgresUrl),
		reachRedis(redisUrl),
	]);
	const missing = [
		postgresProblem === null ? null : `PostgreSQL at ${postgresUrl}: ${postgresProblem}`,
		redisProblem === null ? null : `Redis at ${redisUrl}: ${redisProblem}`,
	].filter((line) => line !== null);
	if (missing.length > 0 && isCi) {
		throw new Error(`CI needs every engine; unreachable: ${missing.join("; ")}`);
	}
	for (const line of missing) {
		process.stderr.write(
			`[${project.name}] skipping the suites that need ${line} (set TEST_DATABASE_URL / TEST_REDIS_URL)\n`,
		);
	}
	project.provide("postgresAdminUrl", postgresProblem === null ? postgresUrl : null);
	project.provide("redisUrl", redisProblem === null ? redisUrl : null);
}
