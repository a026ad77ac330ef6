/**
 * `tollgate sessions keys add|list|remove` (issue 18): the key printed once works against the sessions API
 * over HTTP, only its SHA-256 is stored, and a removed key is refused at once by a running server; the
 * store itself on every SQL engine.
 */
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAppApiKey } from "../../src/modules/sessions/app-api-key.ts";
import { SqlAppApiKeyStore } from "../../src/modules/sessions/storage/sql-app-api-key-store.ts";
import { runTollgate, serveTollgate } from "../support/cli.ts";
import { sqlBackends } from "../support/sql-backends.ts";

const CONFIGURED_KEY = "configured-app-key-0123456789";

let dir: string;
beforeAll(async () => {
	dir = await mkdtemp(join(tmpdir(), "tollgate-sessions-keys-"));
});
afterAll(async () => {
	await rm(dir, { recursive: true, force: true });
});

async function everyFileUnder(root: string): Promise<string[]> {
	const entries = await readdir(root, { withFileTypes: true, recursive: true });
	return entries
		.filter((entry) => entry.isFile())
		.map((entry) => join(entry.parentPath, entry.name));
}

describe("tollgate sessions keys", () => {
	it("a printed key works over HTTP; a wrong or removed key gets 401; the database holds only its hash", async () => {
		const env = { TOLLGATE_DATA_DIR: dir, TOLLGATE_SESSIONS_APP_API_KEYS: CONFIGURED_KEY };
		const added = await runTollgate(["sessions", "keys", "add", "--label", "billing app"], env);
		expect(added.code, added.stderr).toBe(0);
		const printed = /^id: ([0-9a-f]{16})\nkey: (\1\.([A-Za-z0-9_-]{43}))\n$/.exec(added.stdout);
		const [, id = "", key = "", secret = ""] = printed ?? [];
		expect(printed, added.stdout).not.toBeNull();

		const service = await serveTollgate(env);
		const createSession = (bearer: string) =>
			fetch(`${service.url}/sessions`, {
				method: "POST",
				headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
				body: JSON.stringify({ user_id: "user-1", groups: ["staff"] }),
			});
		try {
			const created = await createSession(key);
			expect(created.status).toBe(201);
			const { session } = (await created.json()) as { session: { id: string } };
			const read = await fetch(`${service.url}/sessions/${session.id}`, {
				headers: { authorization: `Bearer ${key}` },
			});
			expect(read.status).toBe(200);
			expect(await read.json()).toMatchObject({ user_id: "user-1", groups: ["staff"] });
			expect((await createSession(CONFIGURED_KEY)).status).toBe(201);

			const wrongSecret = `${id}.${secret.startsWith("A") ? "B" : "A"}${secret.slice(1)}`;
			const unknownId = `${"0".repeat(16)}.${secret}`;
			for (const refused of [wrongSecret, unknownId, secret, id]) {
				const response = await createSession(refused);
				expect(response.status, refused).toBe(401);
				expect(await response.json()).toMatchObject({ error: "unauthorized" });
			}

			const listed = await runTollgate(["sessions", "keys", "list"], env);
			expect(listed.code).toBe(0);
			expect(listed.stdout).not.toContain(secret);
			const lines = listed.stdout.trim().split("\n");
			expect(lines.map((line) => JSON.parse(line))).toEqual([
				{ id, label: "billing app", created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT.+Z$/) },
			]);

			const database = new Database(join(dir, "tollgate.db"), { readonly: true });
			try {
				const rows = database.prepare("SELECT * FROM sessions_app_api_keys").all();
				expect(rows).toEqual([
					{
						id,
						key_sha256: createHash("sha256").update(key).digest(),
						label: "billing app",
						created_at_ms: expect.any(Number),
					},
				]);
			} finally {
				database.close();
			}
			for (const path of await everyFileUnder(dir))
				expect((await readFile(path)).includes(secret), path).toBe(false);
			expect(service.output()).not.toContain(secret);

			const removed = await runTollgate(["sessions", "keys", "remove", id], env);
			expect(removed).toMatchObject({ code: 0, stdout: `removed: ${id}\n` });
			expect((await createSession(key)).status).toBe(401);
			expect((await createSession(CONFIGURED_KEY)).status).toBe(201);
			const again = await runTollgate(["sessions", "keys", "remove", id], env);
			expect(again.code).toBe(1);
			expect(again.stderr.trim().split("\n")).toHaveLength(1);
			expect((await runTollgate(["sessions", "keys", "list"], env)).stdout).toBe("");
		} finally {
			expect(await service.stop()).toBe(0);
		}
	}, 90_000);

	it("a bad --label is a usage error (exit 2, one line) and stores nothing", async () => {
		const env = { TOLLGATE_DATA_DIR: join(dir, "labels") };
		const refused = await runTollgate(["sessions", "keys", "add", "--label", "two\nlines"], env);
		expect(refused.code).toBe(2);
		expect(refused.stderr.trim().split("\n")).toHaveLength(1);
		expect((await runTollgate(["sessions", "keys", "list"], env)).stdout).toBe("");
	}, 30_000);
});

for (const backend of sqlBackends()) {
	describe.skipIf(backend.skipReason !== null)(`stored app API keys on ${backend.name}`, () => {
		it("insert, find by id, list oldest first, count and remove", async () => {
			const fixture = await backend.open();
			try {
				const store = new SqlAppApiKeyStore(fixture.database.db);
				const first = createAppApiKey("first", 1_000).stored;
				const second = createAppApiKey(null, 2_000).stored;
				await store.insert(second);
				await store.insert(first);
				expect(await store.count()).toBe(2);
				expect(await store.findById(first.id)).toEqual(first);
				expect(await store.findById("0000000000000000")).toBeNull();
				expect(await store.list()).toEqual([first, second]);
				expect(await store.remove(first.id)).toBe(true);
				expect(await store.remove(first.id)).toBe(false);
				expect(await store.list()).toEqual([second]);
				expect(await store.count()).toBe(1);
			} finally {
				await fixture.cleanup();
			}
		});
	});
}
