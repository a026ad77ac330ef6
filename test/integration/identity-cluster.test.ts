/**
 * Two identity instances on one PostgreSQL and one Redis, as behind nginx: a login started on one finishes
 * on the other, both publish the same signing keys, and the attempt limits count across both.
 * @see issue 14
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as opaque from "@serenity-kit/opaque";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestApp, type TestApp } from "../support/build-test-app.ts";
import { runTollgate } from "../support/cli.ts";
import {
	createTestPostgresDatabase,
	createTestRedisPrefix,
	postgresAdminUrl,
	redisUrl,
	type TestPostgresDatabase,
	type TestRedisPrefix,
} from "../support/engines.ts";

await opaque.ready;

const PASSWORD = "two instances, one account";
const postgres = postgresAdminUrl();
const redis = redisUrl();

describe.skipIf(postgres === null || redis === null)("identity on two instances", () => {
	let database: TestPostgresDatabase;
	let prefix: TestRedisPrefix;
	let dirs: string[];
	let first: TestApp;
	let second: TestApp;
	let env: Record<string, string>;

	beforeAll(async () => {
		database = await createTestPostgresDatabase(postgres ?? "");
		prefix = createTestRedisPrefix(redis ?? "");
		const secretsKey = randomBytes(32).toString("base64url");
		dirs = [
			await mkdtemp(join(tmpdir(), "tollgate-a-")),
			await mkdtemp(join(tmpdir(), "tollgate-b-")),
		];
		const instance = (dataDir: string) =>
			buildTestApp({
				dev: false,
				data_dir: dataDir,
				database: { url: database.url },
				kv: { url: redis, key_prefix: prefix.prefix },
				identity: { secrets_key: secretsKey, attempts_per_account: 3 },
			});
		first = await instance(dirs[0] ?? "");
		second = await instance(dirs[1] ?? "");
		env = {
			TOLLGATE_DATA_DIR: dirs[0] ?? "",
			TOLLGATE_DATABASE_URL: database.url,
			TOLLGATE_KV_URL: redis ?? "",
			TOLLGATE_KV_KEY_PREFIX: prefix.prefix,
			TOLLGATE_IDENTITY_SECRETS_KEY: secretsKey,
		};
	});
	afterAll(async () => {
		await first?.close();
		await second?.close();
		await database?.drop();
		await prefix?.drop();
		for (const dir of dirs ?? []) await rm(dir, { recursive: true, force: true });
	});

	const post = async (app: TestApp, url: string, payload: unknown) => {
		const response = await app.app.inject({ method: "POST", url, payload: payload as object });
		return { status: response.statusCode, body: response.body === "" ? null : response.json() };
	};

	it("a login started on one instance finishes on the other; both publish the same keys; attempts count across both", async () => {
		const added = await runTollgate(["identity", "users", "add", "erin@example.org"], env);
		expect(added.code, added.stderr).toBe(0);
		const token = new URLSearchParams(
			new URL(/set_password_url: (\S+)/.exec(added.stdout)?.[1] ?? "").hash.slice(1),
		).get("token");
		const registration = opaque.client.startRegistration({ password: PASSWORD });
		const started = await post(first, "/identity/password/start", {
			token,
			registration_request: registration.registrationRequest,
		});
		const { registrationRecord } = opaque.client.finishRegistration({
			clientRegistrationState: registration.clientRegistrationState,
			registrationResponse: started.body.registration_response,
			password: PASSWORD,
		});
		expect(
			(
				await post(second, "/identity/password/finish", {
					token,
					registration_record: registrationRecord,
				})
			).status,
		).toBe(200);

		const login = opaque.client.startLogin({ password: PASSWORD });
		const begun = await post(first, "/identity/login/start", {
			email: "erin@example.org",
			start_login_request: login.startLoginRequest,
		});
		const finishLoginRequest = opaque.client.finishLogin({
			clientLoginState: login.clientLoginState,
			loginResponse: begun.body.login_response,
			password: PASSWORD,
		})?.finishLoginRequest;
		const finished = await post(second, "/identity/login/finish", {
			login_id: begun.body.login_id,
			finish_login_request: finishLoginRequest,
		});
		expect(finished).toMatchObject({ status: 200, body: { amr: ["pwd"] } });

		const jwksOf = async (app: TestApp) =>
			(await app.app.inject({ method: "GET", url: "/oidc/jwks" })).json() as {
				keys: { kid: string }[];
			};
		expect((await jwksOf(second)).keys.map((key) => key.kid)).toEqual(
			(await jwksOf(first)).keys.map((key) => key.kid),
		);

		// Three attempts per account: one used above, one more on each instance, then none on either.
		const attempt = (app: TestApp) =>
			post(app, "/identity/login/start", {
				email: "erin@example.org",
				start_login_request: opaque.client.startLogin({ password: PASSWORD }).startLoginRequest,
			});
		expect((await attempt(second)).status).toBe(200);
		expect((await attempt(first)).status).toBe(200);
		expect((await attempt(second)).status).toBe(429);
		expect((await attempt(first)).status).toBe(429);
	});
});
