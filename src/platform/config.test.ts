import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError } from "#config";
import { loadConfig, maskSecrets } from "./config.ts";

async function tomlFile(text: string): Promise<string> {
	const path = join(await mkdtemp(join(tmpdir(), "tollgate-config-")), "tollgate.toml");
	await writeFile(path, text);
	return path;
}

function problemsOf(load: () => unknown): readonly string[] {
	try {
		load();
	} catch (error) {
		if (error instanceof ConfigError) return error.problems;
		throw error;
	}
	throw new Error("expected a ConfigError");
}

describe("loadConfig", () => {
	it("serves on the embedded defaults with no file and no environment", () => {
		const config = loadConfig({ env: {} });
		expect(config.http).toMatchObject({ host: "127.0.0.1", port: 8080 });
		expect(config.data_dir).toBe("./data");
		expect(config.database.url).toBeUndefined();
		expect(config.kv.url).toBeUndefined();
		expect(config.blobs.backend).toBe("filesystem");
		expect(config.dev).toBe(false);
		expect(config.logging.unsafe).toBe(false);
	});

	it("reads the file named by TOLLGATE_CONFIG, and the environment wins over it", async () => {
		const path = await tomlFile(
			'data_dir = "/srv/tollgate"\n[http]\nport = 9000\nhost = "0.0.0.0"\n',
		);
		const config = loadConfig({ env: { TOLLGATE_CONFIG: path, TOLLGATE_HTTP_PORT: "9100" } });
		expect(config.http.port).toBe(9100);
		expect(config.http.host).toBe("0.0.0.0");
		expect(config.data_dir).toBe("/srv/tollgate");
	});

	it("takes the operator-facing environment names", () => {
		const config = loadConfig({
			env: {
				TOLLGATE_HTTP_HOST: "::1",
				TOLLGATE_DATA_DIR: "/var/lib/tollgate",
				TOLLGATE_DATABASE_URL: "postgres://app:pw@db.internal:5432/tollgate",
				TOLLGATE_KV_URL: "redis://cache.internal:6379",
				TOLLGATE_DEV: "1",
				TOLLGATE_LOGGING_UNSAFE: "1",
				TOLLGATE_JOBS_ENABLED: "0",
			},
		});
		expect(config.http.host).toBe("::1");
		expect(config.data_dir).toBe("/var/lib/tollgate");
		expect(config.database.url).toBe("postgres://app:pw@db.internal:5432/tollgate");
		expect(config.kv.url).toBe("redis://cache.internal:6379");
		expect(config.dev).toBe(true);
		expect(config.logging.unsafe).toBe(true);
		expect(config.jobs.enabled).toBe(false);
	});

	it("names an unknown key in the file", async () => {
		const path = await tomlFile("[http]\nprot = 8080\n");
		expect(problemsOf(() => loadConfig({ configPath: path, env: {} }))).toEqual([
			"http.prot: unknown key",
		]);
	});

	it("names an unknown section", async () => {
		const path = await tomlFile("[htp]\nport = 8080\n");
		expect(problemsOf(() => loadConfig({ configPath: path, env: {} }))).toEqual([
			"htp: unknown key",
		]);
	});

	it("names a bad value, what was expected, and the variable it came from", () => {
		const [problem] = problemsOf(() => loadConfig({ env: { TOLLGATE_HTTP_PORT: "eighty" } }));
		expect(problem).toMatch(/^http\.port: .*expected number.*\(from TOLLGATE_HTTP_PORT\)$/);
	});

	it("refuses an out-of-range port and a non-boolean flag", () => {
		const problems = problemsOf(() =>
			loadConfig({ env: { TOLLGATE_HTTP_PORT: "70000", TOLLGATE_DEV: "maybe" } }),
		);
		expect(problems).toHaveLength(2);
		expect(problems.join("\n")).toMatch(/^http\.port: /m);
		expect(problems.join("\n")).toMatch(/^dev: .*expected boolean/m);
	});

	it("refuses a database URL that is not PostgreSQL", () => {
		const [problem] = problemsOf(() => loadConfig({ env: { TOLLGATE_DATABASE_URL: "mysql://x" } }));
		expect(problem).toContain("database.url: expected a postgres:// or postgresql:// URL");
	});

	it("refuses an unknown TOLLGATE_ variable, a likely typo", () => {
		expect(problemsOf(() => loadConfig({ env: { TOLLGATE_HTTP_PROT: "1" } }))).toEqual([
			"TOLLGATE_HTTP_PROT: unknown environment variable (no such config key)",
		]);
	});

	it("names a config file that does not exist or is not TOML", async () => {
		expect(
			problemsOf(() => loadConfig({ configPath: "/nonexistent/tollgate.toml", env: {} }))[0],
		).toMatch(/^config file \/nonexistent\/tollgate\.toml: cannot be read/);
		const path = await tomlFile("[http\nport = 1");
		expect(problemsOf(() => loadConfig({ configPath: path, env: {} }))[0]).toMatch(
			/not valid TOML/,
		);
	});

	it("returns a frozen config", () => {
		const config = loadConfig({ env: {} });
		expect(Object.isFrozen(config)).toBe(true);
		expect(Object.isFrozen(config.http)).toBe(true);
	});

	it("masks secrets for printing but keeps where a URL points", () => {
		const config = loadConfig({
			env: {
				TOLLGATE_DATABASE_URL: "postgres://app:s3cret@db:5432/tollgate",
				TOLLGATE_KV_URL: "redis://:hunter2@cache:6379",
			},
		});
		const printed = JSON.stringify(maskSecrets(config));
		expect(printed).not.toContain("s3cret");
		expect(printed).not.toContain("hunter2");
		expect(printed).toContain("db:5432");
		expect(config.database.url).toContain("s3cret");
	});

	it("reads a list of tables ([[identity.clients]]) from TOML or as JSON from the environment, naming a bad item's key and masking its secrets", async () => {
		const secret = "a-client-secret-of-at-least-32-chars";
		const path = await tomlFile(
			`[[identity.clients]]\nclient_id = "spa"\nredirect_uris = ["https://app.example.org/cb"]\n\n[[identity.clients]]\nclient_id = "worker"\ngrant_types = ["client_credentials"]\nclient_secret = "${secret}"\n`,
		);
		const fromFile = loadConfig({ configPath: path, env: {} });
		expect(fromFile.identity.clients.map((client) => client.client_id)).toEqual(["spa", "worker"]);
		const fromEnv = loadConfig({
			env: { TOLLGATE_IDENTITY_CLIENTS: JSON.stringify(fromFile.identity.clients) },
		});
		expect(fromEnv.identity.clients).toEqual(fromFile.identity.clients);
		const printed = JSON.stringify(maskSecrets(fromEnv));
		expect(printed).not.toContain(secret);
		expect(printed).toContain('"worker"');

		const bad = problemsOf(() =>
			loadConfig({
				env: { TOLLGATE_IDENTITY_CLIENTS: JSON.stringify([{ client_id: "spa" }]) },
			}),
		);
		expect(bad).toEqual([
			"identity.clients.0.redirect_uris: the authorization_code grant needs redirect_uris (from TOLLGATE_IDENTITY_CLIENTS)",
		]);
	});
});
