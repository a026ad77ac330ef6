/** The operator's interface: exit codes, messages and output of the real executable. */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runTollgate, serveTollgate } from "../support/cli.ts";

let dir: string;
beforeAll(async () => {
	dir = await mkdtemp(join(tmpdir(), "tollgate-cli-"));
});
afterAll(async () => {
	await rm(dir, { recursive: true, force: true });
});

describe("tollgate CLI", () => {
	it("--help lists every command and exits 0; each command has its own --help", async () => {
		const help = await runTollgate(["--help"]);
		expect(help.code).toBe(0);
		const commands = [
			"serve",
			"migrate",
			"print-tables",
			"keys show",
			"config check",
			"sessions secret",
			"entitlements grant",
			"entitlements revoke",
			"entitlements show",
		];
		for (const command of commands) expect(help.stdout).toContain(command);
		await Promise.all(
			commands.map(async (command) => {
				const own = await runTollgate([...command.split(" "), "--help"]);
				expect(own.code, command).toBe(0);
				expect(own.stdout).toContain(`Usage: tollgate ${command}`);
			}),
		);
	}, 60_000);

	it("exits 2 with a one-line reason on a usage error", async () => {
		for (const args of [["frobnicate"], ["serve", "extra"], ["--no-such-flag"], ["keys", "frob"]]) {
			const result = await runTollgate(args);
			expect(result.code, args.join(" ")).toBe(2);
			expect(result.stderr.trim().split("\n"), args.join(" ")).toHaveLength(1);
		}
	});

	it("config check prints the effective config with secrets masked and exits 0", async () => {
		const result = await runTollgate(["config", "check"], {
			TOLLGATE_DATABASE_URL: "postgres://app:s3cret@db.internal/tollgate",
			TOLLGATE_HTTP_PORT: "9090",
		});
		expect(result.code).toBe(0);
		const printed = JSON.parse(result.stdout);
		expect(printed.http.port).toBe(9090);
		expect(printed.database.url).toBe("postgres://app:***@db.internal/tollgate");
		expect(result.stdout).not.toContain("s3cret");
	});

	it("a bad value exits 2 naming the key and what was expected", async () => {
		const result = await runTollgate(["config", "check"], { TOLLGATE_HTTP_PORT: "eighty" });
		expect(result.code).toBe(2);
		expect(result.stderr).toMatch(/http\.port: .*expected number.*TOLLGATE_HTTP_PORT/);
	});

	it("an unknown key in the config file stops start-up with exit 2", async () => {
		const path = join(dir, "bad.toml");
		await writeFile(path, "[http]\nport = 8080\nlisten_backlog = 5\n");
		const result = await runTollgate(["serve", "--config", path]);
		expect(result.code).toBe(2);
		expect(result.stderr).toContain("http.listen_backlog: unknown key");
	});

	it("keys show prints the labelled Ed25519 and X25519 public keys in lowercase hex", async () => {
		const result = await runTollgate(["keys", "show"], {
			TOLLGATE_DEV: "1",
			TOLLGATE_DATA_DIR: join(dir, "dev"),
		});
		expect(result.code).toBe(0);
		expect(result.stdout).toBe(
			"ed25519: fc947730f49eb01427a66e050733294d9e520e545c7a27125a780634e0860a27\n" +
				"x25519: 920b81e9bf1a06e70814432668c61487d6fdbe13faaee3b09ebc56223061f140\n",
		);
	});

	it("keys show adds the legacy X25519 key when one is configured", async () => {
		const keyFile = join(dir, "key_x25519");
		const secret = Buffer.alloc(32, 0x22);
		await writeFile(keyFile, secret);
		const result = await runTollgate(["keys", "show"], {
			TOLLGATE_DEV: "1",
			TOLLGATE_DATA_DIR: join(dir, "legacy"),
			TOLLGATE_KEYS_X25519_LEGACY_FILE: keyFile,
		});
		// X25519 of the secret 32 × 0x22 (the spec's client vector, computed with libsodium in test/vectors/onion.json).
		expect(result.stdout.split("\n")[2]).toBe(
			"x25519_legacy: 0faa684ed28867b97f4a6a2dee5df8ce974e76b7018e3f22a1c4cf2678570f20",
		);
	});

	it("keys show outside dev mode creates the key once and shows the same key every time", async () => {
		const env = { TOLLGATE_DATA_DIR: join(dir, "prod") };
		const first = await runTollgate(["keys", "show"], env);
		const second = await runTollgate(["keys", "show"], env);
		expect(first.code).toBe(0);
		expect(first.stdout).toMatch(/^ed25519: [0-9a-f]{64}\nx25519: [0-9a-f]{64}\n$/);
		expect(second.stdout).toBe(first.stdout);
	});

	it("migrate then print-tables show every table and exit 0, printing no key material", async () => {
		const env = { TOLLGATE_DATA_DIR: join(dir, "tables") };
		expect((await runTollgate(["migrate"], env)).stdout).toContain("applied: 0001_foundation");
		expect((await runTollgate(["migrate"], env)).stdout).toBe("database is up to date\n");
		await runTollgate(["keys", "show"], env);
		const result = await runTollgate(["print-tables"], env);
		expect(result.code).toBe(0);
		for (const table of ["blobs", "blob_chunks", "job_leases", "service_keys"]) {
			expect(result.stdout).toMatch(new RegExp(`^${table} \\(\\d+ rows?\\)$`, "m"));
		}
		expect(result.stdout).toContain('"secret":"<32 bytes>"');
	});

	it("sessions secret prints the configured secret, or the one generated once and kept", async () => {
		const env = { TOLLGATE_DATA_DIR: join(dir, "secret") };
		const first = await runTollgate(["sessions", "secret"], env);
		expect(first.code).toBe(0);
		expect(first.stdout).toMatch(/^[A-Za-z0-9_-]{43}\n$/);
		expect((await runTollgate(["sessions", "secret"], env)).stdout).toBe(first.stdout);
		const configured = await runTollgate(["sessions", "secret"], {
			...env,
			TOLLGATE_SESSIONS_SECRET: "configured-secret",
		});
		expect(configured.stdout).toBe("configured-secret\n");
	});

	it("files stats, get and sweep work on what serve stored", async () => {
		const env = { TOLLGATE_DATA_DIR: join(dir, "files") };
		const service = await serveTollgate(env);
		const response = await fetch(`${service.url}/file`, { method: "POST", body: "hello world" });
		const uploaded = (await response.json()) as { id: string };
		expect(await service.stop()).toBe(0);
		expect((await runTollgate(["files", "stats"], env)).stdout).toBe(
			"files: 1\nbytes: 11\ninline_bytes: 11\nblob_bytes: 0\nleftover_bytes: 0\n",
		);
		const got = await runTollgate(["files", "get", uploaded.id], env);
		expect(got).toMatchObject({ code: 0, stdout: "hello world" });
		expect((await runTollgate(["files", "get", "unknown-id"], env)).code).toBe(1);
		expect((await runTollgate(["files", "get"], env)).code).toBe(2);
		expect((await runTollgate(["files", "sweep"], env)).stdout).toBe("swept: 0\n");
	}, 60_000);

	it("entitlements grant, show and revoke: an operator's manual Session Pro payment, seen by clients", async () => {
		const env = {
			TOLLGATE_DATA_DIR: join(dir, "entitlements"),
			TOLLGATE_DEV: "1",
			TOLLGATE_ENTITLEMENTS_ENABLED: "1",
		};
		const master = "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c";
		const granted = await runTollgate(["entitlements", "grant", master, "--plan", "3m"], env);
		expect(granted.code).toBe(0);
		expect(granted.stdout).toMatch(
			/^payment_id: [0-9a-f-]{36}\nplan: 3m\naccount_expiry: \d{4}-\d\d-\d\dT[\d:.]+Z\n$/,
		);
		const expiry = Date.parse((granted.stdout.split("account_expiry: ")[1] ?? "").trim());
		expect(Math.abs(expiry - (Date.now() + 90 * 86_400_000))).toBeLessThan(60_000);

		const shown = await runTollgate(["entitlements", "show", master], env);
		expect(shown.code).toBe(0);
		expect(JSON.parse(shown.stdout)).toMatchObject({
			master_pkey: master,
			status: "active",
			auto_renewing: false,
			payments: [{ status: "redeemed", plan: "3m", payment_provider: "stf" }],
		});

		// A client sees the revocation on the list it polls.
		const service = await serveTollgate(env);
		const poll = () =>
			fetch(`${service.url}/get_pro_revocations`, { method: "POST", body: '{"ticket":0}' }).then(
				(response) => response.json() as Promise<{ result: { ticket: number; items: unknown[] } }>,
			);
		expect((await poll()).result.ticket).toBe(0);
		// Its stderr says why, should it fail while serve holds the same SQLite file.
		const revoked = await runTollgate(["entitlements", "revoke", master], env);
		expect(revoked.code, revoked.stderr).toBe(0);
		expect(revoked.stdout).toBe("revoked_payments: 1\n");
		const after = await poll();
		expect(after.result.ticket).toBe(1);
		expect(after.result.items).toHaveLength(1);
		expect(await service.stop()).toBe(0);
		expect(
			JSON.parse((await runTollgate(["entitlements", "show", master], env)).stdout),
		).toMatchObject({ status: "expired", payments: [{ status: "revoked" }] });

		const unknown = `${"00".repeat(31)}01`;
		expect((await runTollgate(["entitlements", "revoke", unknown], env)).code).toBe(1);
		for (const args of [
			["entitlements", "grant", "not-a-key"],
			["entitlements", "grant", master, "--plan", "2w"],
			["entitlements", "show", master, "--plan", "1m"],
		]) {
			const refused = await runTollgate(args, env);
			expect(refused.code, args.join(" ")).toBe(2);
			expect(refused.stderr.trim().split("\n")).toHaveLength(1);
		}
	}, 60_000);

	it("serve answers /readyz and exits 0 on SIGTERM", async () => {
		const service = await serveTollgate({ TOLLGATE_DATA_DIR: join(dir, "serve") });
		const ready = await fetch(`${service.url}/readyz`);
		expect(ready.status).toBe(200);
		expect(await service.stop()).toBe(0);
	});
});
