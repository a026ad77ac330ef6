/**
 * Two connect instances on one PostgreSQL and one Redis, as behind nginx: a login made on one is a session
 * on the other; 20 concurrent requests spread over both, each meeting an expired token, make one refresh
 * at the hub (the lock is in Redis); `tollgate connect keys rotate` re-encrypts every token under a new
 * key, after which an instance holding only the new key serves the same session. An upload (arcs) begun on
 * one instance finishes on the other: its chunks are in the database, not in a process.
 * @see issue 16
 * @see issue 17
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestApp, type TestApp } from "../support/build-test-app.ts";
import { runTollgate } from "../support/cli.ts";
import {
	ALICE,
	CLIENT,
	connectSection,
	freePort,
	HUB,
	loginOverHttp,
	PREFIX,
	repositoriesOf,
	tokenKey,
} from "../support/connect.ts";
import {
	createTestPostgresDatabase,
	createTestRedisPrefix,
	postgresAdminUrl,
	redisUrl,
	type TestPostgresDatabase,
	type TestRedisPrefix,
} from "../support/engines.ts";
import { FakeGitLab } from "../support/fake-gitlab.ts";

const postgres = postgresAdminUrl();
const redis = redisUrl();

// In order: the key rotation case restarts an instance with the new key only, which the upload case,
// logging in through the other instance, must come before.
describe.skipIf(postgres === null || redis === null)(
	"connect on two instances",
	{ shuffle: false },
	() => {
		let database: TestPostgresDatabase;
		let prefix: TestRedisPrefix;
		let fake: FakeGitLab;
		let dirs: string[];
		let instances: { app: TestApp; base: string }[];
		const oldKey = tokenKey("k1");
		const newKey = tokenKey("k2");
		let publicBase: string;

		const start = async (dataDir: string, tokenKeys: string[], port: number) => {
			const app = await buildTestApp({
				dev: false,
				data_dir: dataDir,
				http: { port },
				database: { url: database.url },
				kv: { url: redis, key_prefix: prefix.prefix },
				blobs: { backend: "database" },
				connect: connectSection(fake, publicBase, { token_keys: tokenKeys }),
				arcs: { enabled: true },
			});
			app.clock.advanceMs(Date.now() - app.clock.nowMs());
			await app.app.listen({ host: "127.0.0.1", port });
			return { app, base: `http://127.0.0.1:${port}` };
		};

		beforeAll(async () => {
			database = await createTestPostgresDatabase(postgres ?? "");
			prefix = createTestRedisPrefix(redis ?? "");
			fake = await FakeGitLab.start(0, { repositories: true });
			fake.addUser(ALICE);
			// The address the hub sends browsers back to (the load balancer's, in production).
			publicBase = `http://127.0.0.1:${await freePort()}`;
			await fake.register({
				...CLIENT,
				redirectUris: [`${publicBase}${PREFIX}/auth/callback?datahub=${HUB}`],
			});
			dirs = [
				await mkdtemp(join(tmpdir(), "tollgate-connect-a-")),
				await mkdtemp(join(tmpdir(), "tollgate-connect-b-")),
			];
			instances = [];
			// The first instance answers at the public address, where the hub sends browsers back.
			instances.push(await start(dirs[0] ?? "", [oldKey], Number(new URL(publicBase).port)));
			instances.push(await start(dirs[1] ?? "", [oldKey], await freePort()));
		});
		afterAll(async () => {
			for (const instance of instances ?? []) await instance.app.close();
			await fake?.close();
			await database?.drop();
			await prefix?.drop();
			for (const dir of dirs ?? []) await rm(dir, { recursive: true, force: true });
		});

		it("finishes on one instance an upload begun on the other", async () => {
			const [first, second] = instances;
			if (first === undefined || second === undefined) throw new Error("two instances");
			const repositories = repositoriesOf(fake);
			const id = repositories.addProject({ name: "Cluster ARC", ownerId: ALICE.id });
			const cookie = (await loginOverHttp(publicBase, fake, ALICE.username)).jar.header(PREFIX);
			const chunk = (base: string, text: string, chunkNumber: number) => {
				const form = new FormData();
				form.append("file", new Blob([text]), "blob");
				form.append("chunkNumber", String(chunkNumber));
				form.append("totalChunks", "2");
				form.append("name", "halves.txt");
				form.append("id", String(id));
				form.append("path", "halves.txt");
				return fetch(`${base}${PREFIX}/fnf/uploadFile`, {
					method: "POST",
					body: form,
					headers: { cookie },
				});
			};
			expect((await chunk(first.base, "first half, ", 0)).status).toBe(202);
			expect((await chunk(second.base, "second half", 1)).status).toBe(201);
			expect(repositories.file(id, "halves.txt")?.toString()).toBe("first half, second half");
			expect((await fetch(`${second.base}${PREFIX}/auth/logout`, { headers: { cookie } })).ok).toBe(
				true,
			);
		});

		it("shares sessions, refreshes once across both, and survives a key rotation", async () => {
			const [first, second] = instances;
			if (first === undefined || second === undefined) throw new Error("two instances");
			const login = await loginOverHttp(publicBase, fake, ALICE.username);
			expect(login.callback.status).toBe(307);
			const cookie = login.jar.header(PREFIX);
			const userAt = (base: string) =>
				fetch(`${base}${PREFIX}/proxy/${HUB}/api/v4/user`, { headers: { cookie } });
			expect((await userAt(second.base)).status).toBe(200);

			fake.expireAccessTokens();
			const before = fake.grantsOf("refresh_token");
			const answers = await Promise.all(
				Array.from({ length: 20 }, (_, index) =>
					userAt(index % 2 === 0 ? first.base : second.base),
				),
			);
			expect(answers.map((answer) => answer.status)).toEqual(Array(20).fill(200));
			expect(fake.grantsOf("refresh_token") - before).toBe(1);

			const rotated = await runTollgate(["connect", "keys", "rotate"], {
				TOLLGATE_DATA_DIR: dirs[0] ?? "",
				TOLLGATE_DATABASE_URL: database.url,
				TOLLGATE_KV_URL: redis ?? "",
				TOLLGATE_KV_KEY_PREFIX: prefix.prefix,
				TOLLGATE_CONNECT_ENABLED: "1",
				TOLLGATE_CONNECT_PUBLIC_URL: publicBase,
				TOLLGATE_CONNECT_TOKEN_KEYS: `${newKey},${oldKey}`,
			});
			expect(rotated.code, rotated.stderr).toBe(0);
			expect(rotated.stdout).toBe("re-encrypted: 1\n");
			expect(rotated.stderr).not.toContain(newKey.split(":")[1]);

			await second.app.close();
			const onlyNewKey = await start(dirs[1] ?? "", [newKey], await freePort());
			instances[1] = onlyNewKey;
			expect((await userAt(onlyNewKey.base)).status).toBe(200);
		});
	},
);
