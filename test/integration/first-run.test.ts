/**
 * The first minutes with `tollgate`, as a newcomer meets them: a start-up that says what runs where (a
 * banner for people, one line of the same facts for collectors); a database that is down or missing and
 * a port that is taken each stopping start-up with one line and its documented exit code (3, 4, 5), a
 * missing database created when asked; `serve --port/--host/--data-dir`; "did you mean" for typos and a
 * command group's usage; `config check` showing where storage points and empty secret lists as `[]`.
 * @see issue 18
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runTollgate, type ServingProcess, serveTollgate } from "../support/cli.ts";
import { postgresAdminUrl } from "../support/engines.ts";

const postgres = postgresAdminUrl();

/** Resolves once the process has written output matching `pattern` (or rejects when it exits first). */
function outputMatching(serving: ServingProcess, pattern: RegExp): Promise<string> {
	return new Promise((resolve, reject) => {
		const check = () => {
			if (pattern.test(serving.output())) {
				serving.child.stdout?.off("data", check);
				resolve(serving.output());
			}
		};
		serving.child.stdout?.on("data", check);
		serving.child.once("exit", () =>
			pattern.test(serving.output())
				? resolve(serving.output())
				: reject(new Error(serving.output())),
		);
		check();
	});
}

function databaseUrlNamed(name: string): string {
	const url = new URL(postgres ?? "");
	url.pathname = `/${name}`;
	return url.toString();
}

describe("first run", () => {
	let dataDir: string;

	beforeAll(async () => {
		dataDir = await mkdtemp(join(tmpdir(), "tollgate-first-run-"));
	});
	afterAll(async () => {
		await rm(dataDir, { recursive: true, force: true });
	});

	it("prints a banner naming the modules, the data directory, the storage and the URLs of /docs and /metrics", async () => {
		const serving = await serveTollgate({
			TOLLGATE_DATA_DIR: dataDir,
			TOLLGATE_LOGGING_FORMAT: "pretty",
		});
		const output = await outputMatching(serving, /edge {6}nginx recipes/);
		expect(await serving.stop()).toBe(0);
		expect(output).toContain(`Tollgate is serving at ${serving.url}`);
		expect(output).toMatch(/modules {3}sessions, files/);
		expect(output).toContain(`data      ${dataDir}`);
		expect(output).toContain(`database  SQLite at ${join(dataDir, "tollgate.db")}`);
		expect(output).toContain(`API docs  ${serving.url}/docs`);
		expect(output).toContain(`metrics   ${serving.url}/metrics`);
		expect(output).not.toMatch(/^\{"level"/m);
	});

	it("logs the same facts as one JSON line when the output is not a terminal", async () => {
		const serving = await serveTollgate({ TOLLGATE_DATA_DIR: dataDir });
		const output = await outputMatching(serving, /"msg":"tollgate is serving"/);
		expect(await serving.stop()).toBe(0);
		const line = output.split("\n").find((text) => text.includes('"tollgate is serving"')) ?? "";
		expect(JSON.parse(line)).toEqual(
			expect.objectContaining({
				url: serving.url,
				data_dir: dataDir,
				modules: expect.arrayContaining(["files", "sessions"]),
				database: `SQLite at ${join(dataDir, "tollgate.db")}`,
			}),
		);
	});

	it("stops with one line and exit code 5 when the port is taken", async () => {
		const taken: Server = createServer();
		await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
		const address = taken.address();
		const port = typeof address === "object" && address !== null ? address.port : 0;
		try {
			const result = await runTollgate(["serve", "--port", String(port), "--data-dir", dataDir]);
			expect(result.code).toBe(5);
			expect(result.stderr.trim().split("\n")).toEqual([
				`tollgate: 127.0.0.1:${port} is already in use: stop what listens there, or choose another port with --port or http.port (TOLLGATE_HTTP_PORT)`,
			]);
		} finally {
			await new Promise((resolve) => taken.close(resolve));
		}
	});

	it.skipIf(postgres === null)(
		"stops with one line and exit code 4 for a missing database, 3 for one that cannot be reached, and creates a missing one when asked",
		async () => {
			const name = `tollgate_first_run_${process.pid}_${Date.now()}`;
			const missing = await runTollgate(["serve", "--data-dir", dataDir], {
				TOLLGATE_DATABASE_URL: databaseUrlNamed(name),
			});
			expect(missing.code).toBe(4);
			expect(missing.stderr.trim().split("\n")).toHaveLength(1);
			expect(missing.stderr).toContain(`does not exist: create it with \`createdb ${name}\``);
			expect(missing.stderr).toContain("database.create_if_missing = true");

			const unreachable = await runTollgate(["migrate"], {
				TOLLGATE_DATABASE_URL: "postgres://postgres@127.0.0.1:1/tollgate",
			});
			expect(unreachable.code).toBe(3);
			expect(unreachable.stderr.trim().split("\n")).toEqual([
				"tollgate: cannot reach PostgreSQL 127.0.0.1:1/tollgate (ECONNREFUSED): is the server running, and is database.url right?",
			]);

			const created = await runTollgate(["migrate"], {
				TOLLGATE_DATABASE_URL: databaseUrlNamed(name),
				TOLLGATE_DATABASE_CREATE_IF_MISSING: "true",
			});
			try {
				expect(created.code, created.stderr).toBe(0);
				expect(created.stdout).toMatch(/^applied: 0001_foundation/);
			} finally {
				const admin = new pg.Client({ connectionString: postgres ?? "" });
				await admin.connect();
				await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)}`);
				await admin.end();
			}
		},
	);

	it("serve takes --port, --host and --data-dir; a typo gets a suggestion; a command group shows its commands", async () => {
		const flagDir = join(dataDir, "from-flag");
		const serving = await serveTollgate({ TOLLGATE_HTTP_PORT: "1" }, [
			"--port",
			"0",
			"--host",
			"127.0.0.1",
			"--data-dir",
			flagDir,
		]);
		expect((await fetch(`${serving.url}/healthz`)).status).toBe(200);
		expect(await serving.stop()).toBe(0);
		expect(existsSync(join(flagDir, "tollgate.db"))).toBe(true);
		const typo = await runTollgate(["serve", "--prot", "9000"]);
		expect(typo.code).toBe(2);
		expect(typo.stderr).toBe(
			"tollgate: unknown option '--prot'; did you mean '--port'? (see 'tollgate --help')\n",
		);
		const unknown = await runTollgate(["serve", "--listen-backlog", "5"]);
		expect(unknown.stderr).toContain("TOLLGATE_LISTEN_BACKLOG");
		const command = await runTollgate(["keys", "shwo"]);
		expect(command.code).toBe(2);
		expect(command.stderr).toContain("did you mean 'keys show'?");
		const group = await runTollgate(["keys"]);
		expect(group.code).toBe(2);
		expect(group.stderr).toMatch(/^Usage: tollgate keys <show>\n\n {2}keys show {2}Print/);
		const port = await runTollgate(["serve", "--port", "eighty"]);
		expect(port.code).toBe(2);
		expect(port.stderr).toMatch(/http\.port/);
	});

	it("config check shows where storage points and an empty secret list as []", async () => {
		const result = await runTollgate(["config", "check"], {
			TOLLGATE_DATA_DIR: dataDir,
			TOLLGATE_KV_URL: "redis://:hunter2@cache.internal:6380",
			TOLLGATE_SESSIONS_APP_API_KEYS: "",
		});
		expect(result.code).toBe(0);
		const printed = JSON.parse(result.stdout);
		expect(printed.sessions.app_api_keys).toEqual([]);
		expect(printed.kv.url).toBe("redis://:***@cache.internal:6380");
		expect(result.stderr).toContain(`database  SQLite at ${join(dataDir, "tollgate.db")}`);
		expect(result.stderr).toContain("kv store  Redis cache.internal:6380");
		expect(result.stdout + result.stderr).not.toContain("hunter2");
	});
});
