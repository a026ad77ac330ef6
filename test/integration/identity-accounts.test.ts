/**
 * Identity accounts with OPAQUE: an operator adds a user (`tollgate identity users add`), the user sets a
 * password through the one-time link and logs in, all with @serenity-kit/opaque's client making exactly the
 * calls the browser will; the server never receives the password. On SQLite and PostgreSQL.
 * @see issue 14
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as opaque from "@serenity-kit/opaque";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
	type AppBackend,
	appBackends,
	buildTestApp,
	type TestApp,
} from "../support/build-test-app.ts";
import { runTollgate } from "../support/cli.ts";
import { createTestPostgresDatabase, postgresAdminUrl } from "../support/engines.ts";

await opaque.ready;

const PASSWORD = "correct horse battery staple";

interface Deployment {
	readonly env: Record<string, string>;
	readonly overrides: Record<string, unknown>;
	drop(): Promise<void>;
}

async function deploy(backend: AppBackend, dir: string): Promise<Deployment> {
	const base = { TOLLGATE_DATA_DIR: dir, ...(backend.isDev ? { TOLLGATE_DEV: "1" } : {}) };
	if (backend.name === "SQLite")
		return { env: base, overrides: { data_dir: dir, dev: backend.isDev }, drop: async () => {} };
	const database = await createTestPostgresDatabase(postgresAdminUrl() ?? "");
	return {
		env: { ...base, TOLLGATE_DATABASE_URL: database.url },
		overrides: { data_dir: dir, dev: backend.isDev, database: { url: database.url } },
		drop: () => database.drop(),
	};
}

for (const backend of appBackends()) {
	describe.skipIf(backend.skip)(`identity accounts with OPAQUE (${backend.name})`, () => {
		let dir: string;
		let deployment: Deployment;
		let testApp: TestApp;
		/** Every body the server was sent, as sent. */
		let received: string[];

		beforeEach(async () => {
			dir = await mkdtemp(join(tmpdir(), "tollgate-identity-"));
			deployment = await deploy(backend, dir);
			testApp = await buildTestApp(deployment.overrides);
			received = [];
		});
		afterEach(async () => {
			await testApp.close();
			await deployment.drop();
			await rm(dir, { recursive: true, force: true });
		});

		async function post(path: string, body: unknown) {
			const payload = JSON.stringify(body);
			received.push(payload);
			const response = await testApp.app.inject({
				method: "POST",
				url: path,
				headers: { "content-type": "application/json" },
				payload,
			});
			return { status: response.statusCode, body: response.body ? response.json() : null };
		}

		async function addUser(
			email: string,
			...extra: string[]
		): Promise<{ id: string; token: string }> {
			const added = await runTollgate(
				["identity", "users", "add", email, ...extra],
				deployment.env,
			);
			expect(added.code, added.stderr).toBe(0);
			const id = /user_id: (\S+)/.exec(added.stdout)?.[1] ?? "";
			const url = new URL(/set_password_url: (\S+)/.exec(added.stdout)?.[1] ?? "");
			return { id, token: new URLSearchParams(url.hash.slice(1)).get("token") ?? "" };
		}

		async function setPassword(token: string, password: string) {
			const { clientRegistrationState, registrationRequest } = opaque.client.startRegistration({
				password,
			});
			const started = await post("/identity/password/start", {
				token,
				registration_request: registrationRequest,
			});
			expect(started.status).toBe(200);
			const { registrationRecord } = opaque.client.finishRegistration({
				clientRegistrationState,
				registrationResponse: started.body.registration_response,
				password,
			});
			return post("/identity/password/finish", { token, registration_record: registrationRecord });
		}

		/** The browser's login: KE1, then KE3 if the client can make one (a wrong password cannot). */
		async function login(email: string, password: string) {
			const { clientLoginState, startLoginRequest } = opaque.client.startLogin({ password });
			const started = await post("/identity/login/start", {
				email,
				start_login_request: startLoginRequest,
			});
			expect(started.status).toBe(200);
			const finished = opaque.client.finishLogin({
				clientLoginState,
				loginResponse: started.body.login_response,
				password,
			});
			return { started: started.body, finishLoginRequest: finished?.finishLoginRequest };
		}

		it("a user sets a password through the link and logs in; the password never reaches the server; link and login are single-use", async () => {
			const alice = await addUser("Alice@Example.org", "--name", "Alice", "--role", "staff");
			expect((await setPassword(alice.token, PASSWORD)).status).toBe(200);
			// The link is spent.
			const again = await post("/identity/password/finish", {
				token: alice.token,
				registration_record: "AAAA",
			});
			expect(again).toMatchObject({ status: 400, body: { error: "invalid_grant" } });

			// E-mails match whatever their case and surrounding spaces.
			const { started, finishLoginRequest } = await login(" ALICE@example.org", PASSWORD);
			expect(finishLoginRequest).toBeDefined();
			// Before the proof, nothing personal comes back: no user id, no e-mail.
			expect(JSON.stringify(started)).not.toContain(alice.id);
			expect(JSON.stringify(started)).not.toContain("alice@example.org");
			const finished = await post("/identity/login/finish", {
				login_id: started.login_id,
				finish_login_request: finishLoginRequest,
			});
			expect(finished.status).toBe(200);
			expect(finished.body).toMatchObject({ user_id: alice.id, amr: ["pwd"] });
			// The login state is consumed: the same finish again is refused.
			expect(
				await post("/identity/login/finish", {
					login_id: started.login_id,
					finish_login_request: finishLoginRequest,
				}),
			).toMatchObject({ status: 400, body: { error: "invalid_grant" } });

			// A wrong password fails in the client; a forged KE3 is invalid_grant, never a 500.
			expect(
				(await login("alice@example.org", "wrong password")).finishLoginRequest,
			).toBeUndefined();
			const forged = await login("alice@example.org", PASSWORD);
			expect(
				await post("/identity/login/finish", {
					login_id: forged.started.login_id,
					finish_login_request: Buffer.alloc(64, 7).toString("base64url"),
				}),
			).toMatchObject({ status: 400, body: { error: "invalid_grant" } });

			expect(received.length).toBeGreaterThan(0);
			for (const body of received) {
				expect(body).not.toContain(PASSWORD);
				expect(body).not.toContain(Buffer.from(PASSWORD).toString("base64url"));
			}
		});

		it("an unknown e-mail gets an answer of the same shape and can never finish; a disabled user cannot log in", async () => {
			const bob = await addUser("bob@example.org");
			expect((await setPassword(bob.token, PASSWORD)).status).toBe(200);
			const known = await login("bob@example.org", PASSWORD);
			const unknown = await login("nobody@example.org", PASSWORD);
			expect(Object.keys(unknown.started).sort()).toEqual(Object.keys(known.started).sort());
			expect(unknown.started.login_response.length).toBe(known.started.login_response.length);
			expect(unknown.finishLoginRequest).toBeUndefined();
			// Each unknown e-mail has a dummy record of its own, not one shared fake user.
			const other = await login("someone-else@example.org", PASSWORD);
			expect(other.started.login_response).not.toBe(unknown.started.login_response);

			// A login begun before the account was disabled does not finish after; none begins after.
			const begun = await login("bob@example.org", PASSWORD);
			expect(begun.finishLoginRequest).toBeDefined();
			expect(
				(await runTollgate(["identity", "users", "disable", "bob@example.org"], deployment.env))
					.code,
			).toBe(0);
			expect(
				await post("/identity/login/finish", {
					login_id: begun.started.login_id,
					finish_login_request: begun.finishLoginRequest,
				}),
			).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
			expect((await login("bob@example.org", PASSWORD)).finishLoginRequest).toBeUndefined();
			expect(
				(await runTollgate(["identity", "users", "enable", bob.id], deployment.env)).code,
			).toBe(0);
			expect((await login("bob@example.org", PASSWORD)).finishLoginRequest).toBeDefined();

			const shown = await runTollgate(
				["identity", "users", "show", "BOB@example.org"],
				deployment.env,
			);
			expect(JSON.parse(shown.stdout)).toMatchObject({
				id: bob.id,
				email: "bob@example.org",
				disabled: false,
			});
			expect(
				(await runTollgate(["identity", "users", "add", "Bob@Example.org"], deployment.env)).code,
			).toBe(1);
		});

		it("refuses malformed bodies with 400 naming the field, and keeps the server setup sealed at rest", async () => {
			const missing = await post("/identity/login/start", { email: "a@example.org" });
			expect(missing.status).toBe(400);
			expect(JSON.stringify(missing.body)).toContain("start_login_request");
			const notBase64 = await post("/identity/login/start", {
				email: "a@example.org",
				start_login_request: "not base64!",
			});
			expect(notBase64.status).toBe(400);
			const undecodable = await post("/identity/login/start", {
				email: "a@example.org",
				start_login_request: "AAAA",
			});
			expect(undecodable).toMatchObject({ status: 400, body: { error: "invalid_request" } });
			expect(undecodable.body.error_description).toContain("start_login_request");
			const badToken = await post("/identity/password/start", {
				token: "unknown",
				registration_request: opaque.client.startRegistration({ password: PASSWORD })
					.registrationRequest,
			});
			expect(badToken).toMatchObject({ status: 400, body: { error: "invalid_grant" } });

			// oidc-provider's Node-version notice (Node 20) is an info line of our log, never an error.
			const providerLines = testApp.logs().filter((line) => line.module === "oidc-provider");
			for (const line of providerLines) expect(line.level).toBe(30);
			expect(testApp.logs().filter((line) => Number(line.level) >= 50)).toEqual([]);

			const tables = await runTollgate(["print-tables"], deployment.env);
			const sealedRow = tables.stdout
				.split("\n")
				.find((line) => line.includes('"opaque_server_setup"'));
			expect(sealedRow).toMatch(/"sealed":"<\d+ bytes>"/);
			// Another instance with another secrets key cannot open them, and says what to do.
			await expect(
				buildTestApp({
					...deployment.overrides,
					identity: { secrets_key: Buffer.alloc(32, 9).toString("base64url") },
				}),
			).rejects.toThrow(
				/sealed with another identity.secrets_key: set the same key on every instance/,
			);
		});

		it("limits login attempts per account and per client address, with Retry-After, in the key-value store", async () => {
			await testApp.close();
			testApp = await buildTestApp({
				...deployment.overrides,
				identity: { attempts_per_account: 3, attempts_per_address: 4, attempt_window_seconds: 600 },
			});
			const start = (email: string) =>
				testApp.app.inject({
					method: "POST",
					url: "/identity/login/start",
					payload: {
						email,
						start_login_request: opaque.client.startLogin({ password: PASSWORD }).startLoginRequest,
					},
				});
			for (let attempt = 0; attempt < 3; attempt++)
				expect((await start("carol@example.org")).statusCode).toBe(200);
			const limited = await start("CAROL@example.org");
			expect(limited.statusCode).toBe(429);
			expect(limited.json().error).toBe("rate_limited");
			const retryAfter = Number(limited.headers["retry-after"]);
			expect(retryAfter).toBeGreaterThan(0);
			expect(retryAfter).toBeLessThanOrEqual(600);
			// Another account from the same address still has attempts, until the address's run out.
			expect((await start("dave@example.org")).statusCode).toBe(200);
			expect((await start("erin@example.org")).statusCode).toBe(429);
		});
	});
}
