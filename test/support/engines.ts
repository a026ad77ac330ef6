/**
 * Where the real engines are. `.ci/run` exports TEST_DATABASE_URL (an admin connection to a PostgreSQL
 * server) and TEST_REDIS_URL; outside CI the local defaults are tried. Each test file makes its own
 * database / key prefix and removes it, so runs never collide.
 */
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import pg from "pg";
import { inject } from "vitest";

export const DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres";
export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

declare module "vitest" {
	export interface ProvidedContext {
		postgresAdminUrl: string | null;
		redisUrl: string | null;
	}
}

export function postgresAdminUrl(): string | null {
	return inject("postgresAdminUrl");
}

export function redisUrl(): string | null {
	return inject("redisUrl");
}

function uniqueSuffix(): string {
	return randomBytes(6).toString("hex");
}

export interface TestPostgresDatabase {
	readonly url: string;
	drop(): Promise<void>;
}

export async function createTestPostgresDatabase(adminUrl: string): Promise<TestPostgresDatabase> {
	const name = `tollgate_test_${uniqueSuffix()}`;
	const admin = new pg.Client({ connectionString: adminUrl });
	await admin.connect();
	await admin.query(`CREATE DATABASE ${name}`);
	await admin.end();
	const url = new URL(adminUrl);
	url.pathname = `/${name}`;
	return {
		url: url.toString(),
		drop: async () => {
			const cleaner = new pg.Client({ connectionString: adminUrl });
			await cleaner.connect();
			await cleaner.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
			await cleaner.end();
		},
	};
}

export interface TestRedisPrefix {
	readonly prefix: string;
	drop(): Promise<void>;
}

export function createTestRedisPrefix(url: string): TestRedisPrefix {
	const prefix = `tollgate-test:${uniqueSuffix()}:`;
	return {
		prefix,
		drop: async () => {
			const redis = new Redis(url);
			let cursor = "0";
			do {
				const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
				if (keys.length > 0) await redis.del(...keys);
				cursor = next;
			} while (cursor !== "0");
			await redis.quit();
		},
	};
}
