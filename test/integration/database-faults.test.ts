/**
 * The database going away under a running service, as a PostgreSQL restart, a failover or an idle-timeout
 * proxy does: the process stays up, every route answers 503 in its protocol's own envelope while the
 * database is gone, and everything works again by itself once it is back.
 * @see issue 11: `pg_terminate_backend` ended the process (no 'error' listener on the pool), and routes
 * answered 500 internal_error while PostgreSQL refused connections.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import SqliteDatabase from "better-sqlite3";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ServingProcess, serveTollgate } from "../support/cli.ts";
import { createTestPostgresDatabase, postgresAdminUrl } from "../support/engines.ts";
import { hasPostgresBinaries, PrivatePostgres } from "../support/private-postgres.ts";

const isCi = process.env.CI === "true";

interface Answer {
	readonly status: number;
	readonly body: string;
}

async function ask(service: ServingProcess, path: string, init: RequestInit = {}): Promise<Answer> {
	const response = await fetch(`${service.url}${path}`, init);
	return { status: response.status, body: await response.text() };
}

const revocations = { method: "POST", body: JSON.stringify({ ticket: 0 }) };
const upload = (text: string): RequestInit => ({ method: "POST", body: text });

/** No line at error level or above: an unreachable database is not a server fault. */
function errorLines(service: ServingProcess): string[] {
	return service
		.output()
		.split("\n")
		.filter((line) => /"level":(50|60)/.test(line));
}

/** Asks until the answer is 200; every answer before it must be one of `allowed`. Returns how many were not. */
async function untilOk(
	ask: () => Promise<Answer>,
	isAllowedMeanwhile: (answer: Answer) => boolean,
): Promise<number> {
	for (let attempt = 0; ; attempt += 1) {
		const answer = await ask();
		if (answer.status === 200) return attempt;
		expect(isAllowedMeanwhile(answer), `unexpected answer ${answer.status} ${answer.body}`).toBe(
			true,
		);
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
}

const isFilesUnavailable = (answer: Answer) =>
	answer.status === 503 && answer.body === '{"status_code":503}';
const isProUnavailable = (answer: Answer) =>
	answer.status === 503 &&
	JSON.parse(answer.body).status === "error" &&
	JSON.parse(answer.body).error_code === "service_unavailable";

describe.skipIf(!hasPostgresBinaries() && !isCi)("a private PostgreSQL stopped and started", () => {
	let database: PrivatePostgres;
	let service: ServingProcess;
	let dataDir: string;

	beforeAll(async () => {
		database = await PrivatePostgres.start();
		dataDir = await mkdtemp(join(tmpdir(), "tollgate-pg-faults-"));
		service = await serveTollgate({
			TOLLGATE_DATABASE_URL: database.url,
			TOLLGATE_BLOBS_BACKEND: "database",
			TOLLGATE_DATA_DIR: dataDir,
			TOLLGATE_DEV: "1",
			TOLLGATE_ENTITLEMENTS_ENABLED: "1",
			TOLLGATE_DATABASE_CONNECT_TIMEOUT_MS: "2000",
		});
	});
	afterAll(async () => {
		expect(await service.stop()).toBe(0);
		await database.destroy();
		await rm(dataDir, { recursive: true, force: true });
	});

	it("answers 503 in each protocol's envelope while it is down, and recovers by itself", async () => {
		const stored = await ask(service, "/file", upload("kept across the outage"));
		expect(stored.status).toBe(200);
		const { id } = JSON.parse(stored.body) as { id: string };

		// Requests in flight while the server shuts down, then requests while it is gone.
		const inFlight = Array.from({ length: 20 }, (_, index) =>
			index % 2 === 0
				? ask(service, `/file/${id}/info`)
				: ask(service, "/get_pro_revocations", revocations),
		);
		await database.stop();
		for (const answer of await Promise.all(inFlight))
			expect(
				answer.status === 200 || isFilesUnavailable(answer) || isProUnavailable(answer),
				`${answer.status} ${answer.body}`,
			).toBe(true);

		expect(await ask(service, `/file/${id}/info`)).toEqual({
			status: 503,
			body: '{"status_code":503}',
		});
		expect(await ask(service, `/file/${id}`)).toEqual({ status: 503, body: '{"status_code":503}' });
		expect(await ask(service, "/file", upload("during the outage"))).toEqual({
			status: 503,
			body: '{"status_code":503}',
		});
		const pro = await ask(service, "/get_pro_revocations", revocations);
		expect(pro.status).toBe(503);
		expect(JSON.parse(pro.body)).toEqual({
			status: "error",
			error_code: "service_unavailable",
			error: expect.stringContaining("retry later"),
		});
		const ready = await ask(service, "/readyz");
		expect(ready.status).toBe(503);
		expect(JSON.parse(ready.body)).toMatchObject({ checks: { database: "unavailable" } });
		expect(service.child.exitCode).toBeNull();

		await database.restart();
		await untilOk(() => ask(service, `/file/${id}/info`), isFilesUnavailable);
		expect((await ask(service, "/get_pro_revocations", revocations)).status).toBe(200);
		expect((await ask(service, "/readyz")).status).toBe(200);
		expect(await ask(service, `/file/${id}`)).toEqual({
			status: 200,
			body: "kept across the outage",
		});
		expect((await ask(service, "/file", upload("after the outage"))).status).toBe(200);
		expect(service.child.exitCode).toBeNull();
		expect(errorLines(service)).toEqual([]);
	});
});

const adminUrl = postgresAdminUrl();

describe.skipIf(adminUrl === null)("pg_terminate_backend on Tollgate's connections", () => {
	it("leaves the process running, and the next requests get new connections (three times)", async () => {
		const created = await createTestPostgresDatabase(adminUrl ?? "");
		const dataDir = await mkdtemp(join(tmpdir(), "tollgate-pg-terminate-"));
		const service = await serveTollgate({
			TOLLGATE_DATABASE_URL: created.url,
			TOLLGATE_DATA_DIR: dataDir,
			TOLLGATE_DEV: "1",
			TOLLGATE_ENTITLEMENTS_ENABLED: "1",
		});
		const admin = new pg.Client({ connectionString: adminUrl ?? "" });
		await admin.connect();
		const databaseName = new URL(created.url).pathname.slice(1);
		try {
			const { id } = JSON.parse((await ask(service, "/file", upload("still here"))).body) as {
				id: string;
			};
			for (let round = 0; round < 3; round += 1) {
				// Several at once, so the pool holds several connections to lose.
				await Promise.all(Array.from({ length: 8 }, () => ask(service, `/file/${id}/info`)));
				const { rowCount } = await admin.query(
					"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
					[databaseName],
				);
				expect(rowCount).toBeGreaterThan(0);
				expect(
					await untilOk(() => ask(service, `/file/${id}/info`), isFilesUnavailable),
				).toBeLessThan(3);
				expect(
					await untilOk(() => ask(service, "/get_pro_revocations", revocations), isProUnavailable),
				).toBeLessThan(3);
				expect(service.child.exitCode).toBeNull();
			}
			expect(await ask(service, `/file/${id}`)).toEqual({ status: 200, body: "still here" });
			expect(errorLines(service)).toEqual([]);
		} finally {
			await admin.end();
			expect(await service.stop()).toBe(0);
			await created.drop();
			await rm(dataDir, { recursive: true, force: true });
		}
	});
});

describe("SQLite locked by another process past its busy timeout", () => {
	it("answers writes 503 while the lock is held and takes them again once it is released", async () => {
		const dataDir = await mkdtemp(join(tmpdir(), "tollgate-sqlite-busy-"));
		const service = await serveTollgate({ TOLLGATE_DATA_DIR: dataDir });
		const other = new SqliteDatabase(join(dataDir, "tollgate.db"));
		try {
			other.exec("BEGIN IMMEDIATE");
			expect(await ask(service, "/file", upload("while locked"))).toEqual({
				status: 503,
				body: '{"status_code":503}',
			});
			other.exec("ROLLBACK");
			expect((await ask(service, "/file", upload("after the lock"))).status).toBe(200);
			expect(service.child.exitCode).toBeNull();
			expect(errorLines(service)).toEqual([]);
		} finally {
			other.close();
			expect(await service.stop()).toBe(0);
			await rm(dataDir, { recursive: true, force: true });
		}
	});
});
