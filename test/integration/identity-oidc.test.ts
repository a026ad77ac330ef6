/**
 * The identity provider driven by openid-client (a certified relying-party library) over real HTTP:
 * discovery, authorization code with PKCE where the login is the OPAQUE exchange (@serenity-kit/opaque's
 * client, as the browser will run it), id_token validation, userinfo, refresh rotation, and a rotated
 * refresh token used again revoking the whole grant. On SQLite and PostgreSQL.
 * @see issue 14
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as opaque from "@serenity-kit/opaque";
import { createRemoteJWKSet, exportJWK, generateKeyPair, jwtVerify } from "jose";
import * as client from "openid-client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { KEY_CHECK_MS } from "../../src/modules/identity/current-provider.ts";
import {
	type AppBackend,
	appBackends,
	buildTestApp,
	type TestApp,
} from "../support/build-test-app.ts";
import { runTollgate } from "../support/cli.ts";
import { CookieJar } from "../support/cookie-jar.ts";
import { createTestPostgresDatabase, postgresAdminUrl } from "../support/engines.ts";
import { setPasswordWithToken, tokenOf } from "../support/identity.ts";

await opaque.ready;

const PASSWORD = "tr0ub4dor&3 but longer";
const REDIRECT_URI = "http://127.0.0.1:9/callback";

function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = createServer();
		server.once("error", reject);
		server.listen(0, "127.0.0.1", () => {
			const address = server.address();
			const port = typeof address === "object" && address !== null ? address.port : 0;
			server.close(() => resolve(port));
		});
	});
}

interface Deployment {
	readonly env: Record<string, string>;
	readonly overrides: Record<string, unknown>;
	drop(): Promise<void>;
}

async function deploy(backend: AppBackend, dir: string, issuer: string, port: number) {
	const base = {
		TOLLGATE_DATA_DIR: dir,
		TOLLGATE_IDENTITY_ISSUER: issuer,
		...(backend.isDev ? { TOLLGATE_DEV: "1" } : {}),
	};
	const overrides = {
		data_dir: dir,
		dev: backend.isDev,
		http: { port },
		identity: { issuer },
	};
	if (backend.name === "SQLite") return { env: base, overrides, drop: async () => {} };
	const database = await createTestPostgresDatabase(postgresAdminUrl() ?? "");
	return {
		env: { ...base, TOLLGATE_DATABASE_URL: database.url },
		overrides: { ...overrides, database: { url: database.url } },
		drop: () => database.drop(),
	} satisfies Deployment;
}

for (const backend of appBackends()) {
	describe.skipIf(backend.skip)(`identity provider with openid-client (${backend.name})`, () => {
		let dir: string;
		let issuer: string;
		let deployment: Deployment;
		let testApp: TestApp;

		beforeEach(async () => {
			dir = await mkdtemp(join(tmpdir(), "tollgate-oidc-"));
			const port = await freePort();
			issuer = `http://127.0.0.1:${port}`;
			deployment = await deploy(backend, dir, issuer, port);
			testApp = await buildTestApp(deployment.overrides);
			testApp.clock.advanceMs(Date.now() - testApp.clock.nowMs());
			await testApp.app.listen({ host: "127.0.0.1", port });
		});
		afterEach(async () => {
			await testApp.close();
			await deployment.drop();
			await rm(dir, { recursive: true, force: true });
		});

		/** The service restarted on the same database and port, with `identity` settings added. */
		async function restartWith(identity: Record<string, unknown>) {
			await testApp.close();
			const overrides = deployment.overrides as { identity: Record<string, unknown> };
			testApp = await buildTestApp({
				...deployment.overrides,
				identity: { ...overrides.identity, ...identity },
			});
			testApp.clock.advanceMs(Date.now() - testApp.clock.nowMs());
			await testApp.app.listen({ host: "127.0.0.1", port: Number(new URL(issuer).port) });
		}

		async function cli(...args: string[]) {
			const result = await runTollgate(args, deployment.env);
			expect(result.code, result.stderr).toBe(0);
			return result.stdout;
		}

		/** An account with a password, set through its link as the browser would. */
		async function userWithPassword(email: string): Promise<string> {
			const added = await cli("identity", "users", "add", email, "--role", "staff");
			const link = /set_password_url: (\S+)/.exec(added)?.[1] ?? "";
			const finished = await setPasswordWithToken(issuer, tokenOf(link), PASSWORD);
			expect(finished.status).toBe(200);
			return /user_id: (\S+)/.exec(added)?.[1] ?? "";
		}

		/** The browser's side of an authorization: redirects followed, the login done with OPAQUE. */
		async function authorize(
			authorizationUrl: URL,
			email: string,
			jar = new CookieJar(),
			isDone = (url: URL) => url.href.startsWith(REDIRECT_URI),
			/** The user's answer to a consent prompt, given the scopes asked; they allow by default. */
			answerConsent: (scopes: string[]) => boolean = () => true,
		): Promise<URL> {
			let next = authorizationUrl.href;
			for (let hop = 0; hop < 10; hop++) {
				const response = await fetch(next, {
					redirect: "manual",
					headers: { cookie: jar.header() },
				});
				jar.store(response);
				const location = response.headers.get("location");
				if (location !== null) {
					const target = new URL(location, next);
					if (isDone(target)) return target;
					next = target.href;
					continue;
				}
				expect(response.status, await response.clone().text()).toBe(200);
				const interaction = (await response.json()) as {
					prompt: "login" | "consent";
					login_start: string;
					login_finish: string;
					consent: string;
					scopes: { scope: string }[];
				};
				if (interaction.prompt === "consent") {
					const allow = answerConsent(interaction.scopes.map((each) => each.scope));
					const allowed = await fetch(new URL(interaction.consent, issuer), {
						method: "POST",
						headers: { "content-type": "application/json", cookie: jar.header() },
						body: JSON.stringify({ allow }),
					});
					expect(allowed.status, await allowed.clone().text()).toBe(200);
					const target = new URL(
						((await allowed.json()) as { redirect_to: string }).redirect_to,
						issuer,
					);
					if (isDone(target)) return target;
					next = target.href;
					continue;
				}
				const { clientLoginState, startLoginRequest } = opaque.client.startLogin({
					password: PASSWORD,
				});
				const started = (await (
					await fetch(new URL(interaction.login_start, issuer), {
						method: "POST",
						headers: { "content-type": "application/json" },
						body: JSON.stringify({ email, start_login_request: startLoginRequest }),
					})
				).json()) as { login_id: string; login_response: string };
				const finishLoginRequest = opaque.client.finishLogin({
					clientLoginState,
					loginResponse: started.login_response,
					password: PASSWORD,
				})?.finishLoginRequest;
				const finished = await fetch(new URL(interaction.login_finish, issuer), {
					method: "POST",
					headers: { "content-type": "application/json", cookie: jar.header() },
					body: JSON.stringify({
						login_id: started.login_id,
						finish_login_request: finishLoginRequest,
					}),
				});
				expect(finished.status, await finished.clone().text()).toBe(200);
				next = ((await finished.json()) as { redirect_to: string }).redirect_to;
			}
			throw new Error("the authorization did not come back to the client");
		}

		it("code + PKCE with an OPAQUE login: id_token, userinfo, refresh rotation; reusing a rotated refresh token revokes the grant", async () => {
			const userId = await userWithPassword("alice@example.org");
			await cli(
				"identity",
				"clients",
				"add",
				"spa",
				"--redirect-uri",
				REDIRECT_URI,
				"--id-token-alg",
				"EdDSA",
			);
			const config = await client.discovery(new URL(issuer), "spa", undefined, client.None(), {
				execute: [client.allowInsecureRequests],
			});
			expect(config.serverMetadata().code_challenge_methods_supported).toEqual(["S256"]);
			const verifier = client.randomPKCECodeVerifier();
			const authorizationUrl = client.buildAuthorizationUrl(config, {
				redirect_uri: REDIRECT_URI,
				scope: "openid email roles offline_access",
				prompt: "consent",
				code_challenge: await client.calculatePKCECodeChallenge(verifier),
				code_challenge_method: "S256",
			});
			const callback = await authorize(authorizationUrl, "Alice@Example.org");
			// RFC 9207: the issuer comes back with the code.
			expect(callback.searchParams.get("iss")).toBe(issuer);
			const tokens = await client.authorizationCodeGrant(config, callback, {
				pkceCodeVerifier: verifier,
				idTokenExpected: true,
			});
			const claims = tokens.claims();
			expect(claims).toMatchObject({ sub: userId, iss: issuer, aud: "spa", amr: ["pwd"] });
			expect(
				JSON.parse(Buffer.from(tokens.id_token?.split(".")[0] ?? "", "base64url").toString()).alg,
			).toBe("EdDSA");
			const userinfo = await client.fetchUserInfo(config, tokens.access_token, userId);
			expect(userinfo).toMatchObject({ sub: userId, email: "alice@example.org", roles: ["staff"] });

			const first = tokens.refresh_token ?? "";
			const rotated = await client.refreshTokenGrant(config, first);
			expect(rotated.refresh_token).toBeDefined();
			expect(rotated.refresh_token).not.toBe(first);
			// The rotated-away token used again: refused, and the grant is revoked with it.
			await expect(client.refreshTokenGrant(config, first)).rejects.toMatchObject({
				error: "invalid_grant",
			});
			await expect(
				client.refreshTokenGrant(config, rotated.refresh_token ?? ""),
			).rejects.toMatchObject({
				error: "invalid_grant",
			});
			// A tampered refresh token is invalid_grant too, never a 500.
			await expect(client.refreshTokenGrant(config, `${first}x`)).rejects.toMatchObject({
				error: "invalid_grant",
			});

			// A code is single-use: presented again, it is refused and what it gave is revoked (RFC 6749 §4.1.2).
			const again = client.randomPKCECodeVerifier();
			const secondCallback = await authorize(
				client.buildAuthorizationUrl(config, {
					redirect_uri: REDIRECT_URI,
					scope: "openid offline_access",
					prompt: "consent",
					code_challenge: await client.calculatePKCECodeChallenge(again),
					code_challenge_method: "S256",
				}),
				"alice@example.org",
			);
			const second = await client.authorizationCodeGrant(config, secondCallback, {
				pkceCodeVerifier: again,
			});
			await expect(
				client.authorizationCodeGrant(config, secondCallback, { pkceCodeVerifier: again }),
			).rejects.toMatchObject({ error: "invalid_grant" });
			await expect(
				client.refreshTokenGrant(config, second.refresh_token ?? ""),
			).rejects.toMatchObject({ error: "invalid_grant" });
		});

		it("consent: a first-party client is never asked; another is asked once per scope (remembered across sessions); a refusal gives the client access_denied", async () => {
			await userWithPassword("carol@example.org");
			await cli(
				"identity",
				"clients",
				"add",
				"first",
				"--redirect-uri",
				REDIRECT_URI,
				"--first-party",
			);
			await cli("identity", "clients", "add", "spa", "--redirect-uri", REDIRECT_URI);
			const asked: string[][] = [];
			const consenting = (allow: boolean) => (scopes: string[]) => {
				asked.push(scopes);
				return allow;
			};
			const start = async (clientId: string, scope: string) =>
				client.buildAuthorizationUrl(await discover(clientId), {
					redirect_uri: REDIRECT_URI,
					scope,
					code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
					code_challenge_method: "S256",
				});

			const first = await authorize(
				await start("first", "openid email"),
				"carol@example.org",
				new CookieJar(),
				undefined,
				consenting(true),
			);
			expect(first.searchParams.get("code")).not.toBeNull();
			expect(asked).toEqual([]);
			const spa = await authorize(
				await start("spa", "openid email"),
				"carol@example.org",
				new CookieJar(),
				undefined,
				consenting(true),
			);
			expect(spa.searchParams.get("code")).not.toBeNull();
			expect(asked).toEqual([["openid", "email"]]);
			// Another browser, a new session: what was allowed is not asked again.
			await authorize(
				await start("spa", "openid email"),
				"carol@example.org",
				new CookieJar(),
				undefined,
				consenting(true),
			);
			expect(asked).toHaveLength(1);
			// A scope not allowed before is asked for; refused, the client hears access_denied.
			const refused = await authorize(
				await start("spa", "openid email profile"),
				"carol@example.org",
				new CookieJar(),
				undefined,
				consenting(false),
			);
			expect(asked[1]).toContain("profile");
			expect(refused.searchParams.get("error")).toBe("access_denied");
			expect(refused.searchParams.get("code")).toBeNull();
		});

		it("refuses an authorization without PKCE or to a redirect URI it does not know", async () => {
			await cli("identity", "clients", "add", "spa", "--redirect-uri", REDIRECT_URI);
			const noPkce = await fetch(
				`${issuer}/oidc/auth?client_id=spa&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(REDIRECT_URI)}`,
				{ redirect: "manual" },
			);
			const noPkceTarget = new URL(noPkce.headers.get("location") ?? "http://x/");
			expect(noPkceTarget.searchParams.get("error")).toBe("invalid_request");
			const elsewhere = await fetch(
				`${issuer}/oidc/auth?client_id=spa&response_type=code&scope=openid&code_challenge=${"a".repeat(43)}&code_challenge_method=S256&redirect_uri=${encodeURIComponent("https://evil.example/callback")}`,
				{ redirect: "manual" },
			);
			// Never redirected to an unregistered URI.
			expect(elsewhere.headers.get("location") ?? "").not.toContain("evil.example");
			expect(elsewhere.status).toBe(400);
		});

		/** A whole authorization for `clientId`, as the SPA does it; returns the token response. */
		/** A whole authorization as the SPA does it; `offline` asks for a refresh token too. */
		async function signIn(
			config: client.Configuration,
			email: string,
			options: { readonly offline?: boolean } = {},
		) {
			const verifier = client.randomPKCECodeVerifier();
			const callback = await authorize(
				client.buildAuthorizationUrl(config, {
					redirect_uri: REDIRECT_URI,
					...(options.offline === true
						? { scope: "openid offline_access", prompt: "consent" }
						: { scope: "openid email" }),
					code_challenge: await client.calculatePKCECodeChallenge(verifier),
					code_challenge_method: "S256",
				}),
				email,
			);
			return client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier });
		}

		const discover = (clientId: string, auth: client.ClientAuth = client.None()) =>
			client.discovery(new URL(issuer), clientId, undefined, auth, {
				execute: [client.allowInsecureRequests],
			});

		/** A confidential client for client credentials; returns its secret, printed once. */
		async function addWorkerClient(): Promise<string> {
			const added = await cli(
				"identity",
				"clients",
				"add",
				"worker",
				"--grant-types",
				"client_credentials",
			);
			return /client_secret: (\S+)/.exec(added)?.[1] ?? "";
		}

		const headerOf = (jwt: string) =>
			JSON.parse(Buffer.from(jwt.split(".")[0] ?? "", "base64url").toString()) as {
				alg: string;
				kid: string;
			};

		it("signs id_tokens with the algorithm each client asks for (EdDSA, ES256, RS256), verifiable with the JWKS; a rotated key keeps verifying", async () => {
			const userId = await userWithPassword("bob@example.org");
			const jwks = createRemoteJWKSet(new URL(`${issuer}/oidc/jwks`));
			const idTokens = new Map<string, string>();
			for (const alg of ["EdDSA", "ES256", "RS256"]) {
				await cli(
					"identity",
					"clients",
					"add",
					`app-${alg}`,
					"--redirect-uri",
					REDIRECT_URI,
					"--id-token-alg",
					alg,
				);
				const tokens = await signIn(await discover(`app-${alg}`), "bob@example.org");
				const idToken = tokens.id_token ?? "";
				expect(headerOf(idToken).alg).toBe(alg);
				const verified = await jwtVerify(idToken, jwks, { issuer, audience: `app-${alg}` });
				expect(verified.payload.sub).toBe(userId);
				idTokens.set(alg, idToken);
			}

			// Rotation, with no restart: the running instance signs with the new keys once it next checks
			// (every 30 s); the old ones stay published, so old tokens verify.
			expect(await cli("identity", "keys", "rotate")).toMatch(
				/^EdDSA: \S+\nES256: \S+\nRS256: \S+\n/,
			);
			testApp.clock.advanceMs(KEY_CHECK_MS);
			const published = (await (await fetch(`${issuer}/oidc/jwks`)).json()) as {
				keys: { kid: string }[];
			};
			const oldKid = headerOf(idTokens.get("EdDSA") ?? "").kid;
			expect(published.keys.map((key) => key.kid)).toContain(oldKid);
			const afterRotation = await signIn(await discover("app-EdDSA"), "bob@example.org");
			expect(headerOf(afterRotation.id_token ?? "").kid).not.toBe(oldKid);
			const freshJwks = createRemoteJWKSet(new URL(`${issuer}/oidc/jwks`));
			await jwtVerify(idTokens.get("EdDSA") ?? "", freshJwks, { issuer, audience: "app-EdDSA" });
			await jwtVerify(afterRotation.id_token ?? "", freshJwks, { issuer, audience: "app-EdDSA" });
		});

		it("client credentials for a confidential client; its tokens introspect as active until revoked; its secret is sealed at rest", async () => {
			const secret = await addWorkerClient();
			expect(secret.length).toBeGreaterThan(30);
			const config = await discover("worker", client.ClientSecretBasic(secret));
			const tokens = await client.clientCredentialsGrant(config);
			expect(tokens.token_type.toLowerCase()).toBe("bearer");
			expect(await client.tokenIntrospection(config, tokens.access_token)).toMatchObject({
				active: true,
				client_id: "worker",
			});
			// Another client cannot revoke it.
			const otherAdded = await cli(
				"identity",
				"clients",
				"add",
				"other",
				"--grant-types",
				"client_credentials",
			);
			const otherSecret = /client_secret: (\S+)/.exec(otherAdded)?.[1] ?? "";
			await Promise.allSettled([
				client.tokenRevocation(
					await discover("other", client.ClientSecretBasic(otherSecret)),
					tokens.access_token,
				),
			]);
			expect((await client.tokenIntrospection(config, tokens.access_token)).active).toBe(true);
			await client.tokenRevocation(config, tokens.access_token);
			expect((await client.tokenIntrospection(config, tokens.access_token)).active).toBe(false);
			// A wrong secret is refused: 401 with a Basic challenge (RFC 6749 §5.2).
			await expect(
				client.clientCredentialsGrant(
					await discover("worker", client.ClientSecretBasic(`${secret}x`)),
				),
			).rejects.toMatchObject({ status: 401, code: "OAUTH_WWW_AUTHENTICATE_CHALLENGE" });

			const listed = await cli("identity", "clients", "list");
			expect(
				listed
					.trim()
					.split("\n")
					.map((line) => JSON.parse(line)),
			).toEqual([
				expect.objectContaining({ client_id: "other", has_secret: true }),
				expect.objectContaining({ client_id: "worker", has_secret: true }),
			]);
			expect(listed).not.toContain(secret);
			expect(await cli("identity", "clients", "show", "worker")).not.toContain(secret);
			expect(
				(await runTollgate(["identity", "clients", "show", "nobody"], deployment.env)).code,
			).toBe(1);
			const tables = await runTollgate(["print-tables"], deployment.env);
			expect(tables.stdout).toContain("identity_oidc_models");
			expect(tables.stdout).not.toContain(secret);
		});

		it("PAR and DPoP: a pushed request authorizes; the tokens are bound to the client's key; a replayed proof is refused", async () => {
			const userId = await userWithPassword("carol@example.org");
			await cli("identity", "clients", "add", "spa", "--redirect-uri", REDIRECT_URI);
			const config = await discover("spa");
			const dpop = client.getDPoPHandle(config, await client.randomDPoPKeyPair("ES256"));
			const verifier = client.randomPKCECodeVerifier();
			const pushed = await client.buildAuthorizationUrlWithPAR(
				config,
				{
					redirect_uri: REDIRECT_URI,
					scope: "openid offline_access",
					prompt: "consent",
					code_challenge: await client.calculatePKCECodeChallenge(verifier),
					code_challenge_method: "S256",
				},
				{ DPoP: dpop },
			);
			expect(pushed.searchParams.get("request_uri")).toMatch(/^urn:ietf:params:oauth:request_uri:/);
			const callback = await authorize(pushed, "carol@example.org");
			const tokens = await client.authorizationCodeGrant(
				config,
				callback,
				{ pkceCodeVerifier: verifier },
				undefined,
				{ DPoP: dpop },
			);
			expect(tokens.token_type.toLowerCase()).toBe("dpop");
			const userinfoEndpoint = config.serverMetadata().userinfo_endpoint ?? "";
			// As a plain bearer token it is worth nothing.
			const asBearer = await fetch(userinfoEndpoint, {
				headers: { authorization: `Bearer ${tokens.access_token}` },
			});
			expect(asBearer.status).toBe(401);

			let captured: { url: string; headers: Headers } | undefined;
			config[client.customFetch] = async (url, options) => {
				captured = { url, headers: new Headers(options.headers) };
				return fetch(url, options as RequestInit);
			};
			expect(
				await client.fetchUserInfo(config, tokens.access_token, userId, { DPoP: dpop }),
			).toMatchObject({
				sub: userId,
			});
			// The same request again, proof and all: its proof's jti was seen, so it is refused.
			const replayed = await fetch(captured?.url ?? "", { headers: captured?.headers ?? {} });
			expect(replayed.status).toBe(401);
			expect(replayed.headers.get("www-authenticate") ?? "").toMatch(
				/^DPoP .*error="invalid_(token|dpop_proof)"/,
			);

			// The refresh token is bound to the key too.
			await expect(
				client.refreshTokenGrant(config, tokens.refresh_token ?? ""),
			).rejects.toMatchObject({
				error: "invalid_grant",
			});
			const refreshed = await client.refreshTokenGrant(
				config,
				tokens.refresh_token ?? "",
				undefined,
				{
					DPoP: dpop,
				},
			);
			expect(refreshed.token_type.toLowerCase()).toBe("dpop");
		});

		it("two refreshes of one token at once: exactly one succeeds; a disabled user's refresh token stops working", async () => {
			await userWithPassword("dave@example.org");
			await cli("identity", "clients", "add", "spa", "--redirect-uri", REDIRECT_URI);
			const config = await discover("spa");
			const tokens = await signIn(config, "dave@example.org", { offline: true });
			const refreshToken = tokens.refresh_token ?? "";
			const outcomes = await Promise.allSettled([
				client.refreshTokenGrant(config, refreshToken),
				client.refreshTokenGrant(config, refreshToken),
			]);
			expect(outcomes.filter((outcome) => outcome.status === "fulfilled")).toHaveLength(1);
			const failed = outcomes.find((outcome) => outcome.status === "rejected");
			expect(failed?.status === "rejected" ? failed.reason : undefined).toMatchObject({
				error: "invalid_grant",
			});

			// Whatever the race revoked, the account signs in afresh.
			expect((await signIn(config, "dave@example.org")).access_token).toBeDefined();
			const third = await signIn(config, "dave@example.org", { offline: true });
			await cli("identity", "users", "disable", "dave@example.org");
			await expect(
				client.refreshTokenGrant(config, third.refresh_token ?? ""),
			).rejects.toMatchObject({
				error: "invalid_grant",
			});
		});

		it("limits token requests per client address, counted in the key-value store: 429 with Retry-After", async () => {
			const secret = await addWorkerClient();
			await restartWith({ token_requests_per_address: 2 });
			const config = await discover("worker", client.ClientSecretBasic(secret));
			await client.clientCredentialsGrant(config);
			await client.clientCredentialsGrant(config);
			const limited = await fetch(`${issuer}/oidc/token`, {
				method: "POST",
				headers: {
					authorization: `Basic ${Buffer.from(`worker:${secret}`).toString("base64")}`,
					"content-type": "application/x-www-form-urlencoded",
				},
				body: "grant_type=client_credentials",
			});
			expect(limited.status).toBe(429);
			expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
		});

		it("RP-initiated logout asks, then ends the session: the next authorization needs a login again", async () => {
			await userWithPassword("frank@example.org");
			const loggedOut = "http://127.0.0.1:9/logged-out";
			await cli(
				"identity",
				"clients",
				"add",
				"spa",
				"--redirect-uri",
				REDIRECT_URI,
				"--post-logout-uri",
				loggedOut,
			);
			const config = await discover("spa");
			const jar = new CookieJar();
			const verifier = client.randomPKCECodeVerifier();
			const authorizationUrl = client.buildAuthorizationUrl(config, {
				redirect_uri: REDIRECT_URI,
				scope: "openid",
				code_challenge: await client.calculatePKCECodeChallenge(verifier),
				code_challenge_method: "S256",
			});
			const tokens = await client.authorizationCodeGrant(
				config,
				await authorize(authorizationUrl, "frank@example.org", jar),
				{ pkceCodeVerifier: verifier },
			);
			const asked = await fetch(
				client.buildEndSessionUrl(config, {
					id_token_hint: tokens.id_token ?? "",
					post_logout_redirect_uri: loggedOut,
				}),
				{ headers: { cookie: jar.header() } },
			);
			jar.store(asked);
			const page = await asked.text();
			expect(page).not.toContain("googleapis");
			const xsrf = /name="xsrf" value="([^"]+)"/.exec(page)?.[1] ?? "";
			expect(xsrf).not.toBe("");
			const confirmed = await fetch(`${issuer}/oidc/session/end/confirm`, {
				method: "POST",
				redirect: "manual",
				headers: { cookie: jar.header(), "content-type": "application/x-www-form-urlencoded" },
				body: new URLSearchParams({ xsrf, logout: "yes" }).toString(),
			});
			jar.store(confirmed);
			expect(confirmed.status).toBe(303);
			expect(confirmed.headers.get("location")).toBe(loggedOut);

			// With the session gone, the same browser is asked to log in again.
			let next = authorizationUrl.href;
			let response = await fetch(next, { redirect: "manual", headers: { cookie: jar.header() } });
			for (let hop = 0; hop < 5 && response.headers.get("location") !== null; hop++) {
				jar.store(response);
				next = new URL(response.headers.get("location") ?? "", next).href;
				expect(next.startsWith(REDIRECT_URI)).toBe(false);
				response = await fetch(next, { redirect: "manual", headers: { cookie: jar.header() } });
			}
			expect(await response.json()).toMatchObject({ prompt: "login" });
			// The browser's interaction cookie opens only its own interaction.
			const other = await fetch(`${issuer}/identity/interaction/someone-elses`, {
				headers: { cookie: jar.header() },
			});
			expect(other.status).toBe(400);
			expect(((await other.json()) as { error: string }).error).toBe("invalid_grant");
		});

		it("device flow (RFC 8628): the user enters the device's code, logs in with OPAQUE, and the polling device gets tokens", async () => {
			const userId = await userWithPassword("hank@example.org");
			await cli(
				"identity",
				"clients",
				"add",
				"tv",
				"--grant-types",
				"urn:ietf:params:oauth:grant-type:device_code,refresh_token",
			);
			const config = await discover("tv");
			const device = await client.initiateDeviceAuthorization(config, {
				scope: "openid offline_access",
			});
			expect(device.verification_uri).toBe(`${issuer}/oidc/device`);
			// The device's poll, by hand (openid-client waits the 5 s interval before each one).
			const poll = async () =>
				(await (
					await fetch(`${issuer}/oidc/token`, {
						method: "POST",
						headers: { "content-type": "application/x-www-form-urlencoded" },
						body: new URLSearchParams({
							grant_type: "urn:ietf:params:oauth:grant-type:device_code",
							device_code: device.device_code,
							client_id: "tv",
						}).toString(),
					})
				).json()) as { error?: string };
			expect(await poll()).toMatchObject({ error: "authorization_pending" });

			const jar = new CookieJar();
			const entry = await fetch(device.verification_uri, { headers: { cookie: jar.header() } });
			jar.store(entry);
			expect(entry.status).toBe(200);
			// Each page carries the form's anti-forgery token for the next post.
			let xsrf = "";
			const xsrfOf = (html: string) => /name="xsrf" value="([^"]+)"/.exec(html)?.[1] ?? "";
			xsrf = xsrfOf(await entry.text());
			const submit = async (fields: Record<string, string>) => {
				const response = await fetch(device.verification_uri, {
					method: "POST",
					redirect: "manual",
					headers: { cookie: jar.header(), "content-type": "application/x-www-form-urlencoded" },
					body: new URLSearchParams({ xsrf, ...fields }).toString(),
				});
				jar.store(response);
				const html = response.status === 200 ? await response.text() : "";
				xsrf = xsrfOf(html) || xsrf;
				return { response, html };
			};
			const wrong = await submit({ user_code: "BCDF-GHJK" });
			expect(wrong.response.status).toBe(200);
			expect(wrong.html).toContain("not valid");
			expect((await submit({ user_code: device.user_code })).html).toContain(device.user_code);
			const { response: confirmed } = await submit({
				user_code: device.user_code,
				confirm: "yes",
			});
			expect(confirmed.status).toBe(303);
			const resumed = await authorize(
				new URL(confirmed.headers.get("location") ?? "", issuer),
				"hank@example.org",
				jar,
				(url) => url.pathname.startsWith("/oidc/device/"),
			);
			const done = await fetch(resumed, { headers: { cookie: jar.header() } });
			expect(done.status).toBe(200);
			expect(await done.text()).toContain("Your device is signed in");

			const tokens = await client.pollDeviceAuthorizationGrant(config, device);
			expect(tokens.claims()).toMatchObject({ sub: userId, aud: "tv" });
			expect(tokens.refresh_token).toBeDefined();
			// The device code is spent.
			expect(await poll()).toMatchObject({ error: "invalid_grant" });
			// A browser without the flow's cookie gets the form again, not an error page or a 500.
			const stray = await fetch(device.verification_uri, {
				method: "POST",
				headers: { "content-type": "application/x-www-form-urlencoded" },
				body: new URLSearchParams({ xsrf: "forged", user_code: device.user_code }).toString(),
			});
			expect(stray.status).toBe(400);
			const strayJar = new CookieJar();
			strayJar.store(stray);
			// The form it got back works: its token matches the session it was given.
			const retried = await fetch(device.verification_uri, {
				method: "POST",
				headers: {
					cookie: strayJar.header(),
					"content-type": "application/x-www-form-urlencoded",
				},
				body: new URLSearchParams({
					xsrf: xsrfOf(await stray.text()),
					user_code: "BCDF-GHJK",
				}).toString(),
			});
			expect(retried.status).toBe(200);
			expect(await retried.text()).toContain("not valid");
			expect((await fetch(`${issuer}/oidc/device/not-an-interaction`)).status).toBe(400);
		});

		it("clients declared in config, from the environment too; private_key_jwt with a JWKS file, declared or added; the CLI lists declared clients and leaves them alone", async () => {
			const keys = await generateKeyPair("ES256", { extractable: true });
			const jwksFile = join(dir, "worker-keys.json");
			await writeFile(
				jwksFile,
				JSON.stringify({ keys: [{ ...(await exportJWK(keys.publicKey)), alg: "ES256" }] }),
			);
			const declared = [
				{ client_id: "declared-spa", redirect_uris: [REDIRECT_URI] },
				{ client_id: "declared-worker", grant_types: ["client_credentials"], jwks_file: jwksFile },
			];
			await restartWith({ clients: declared });
			const env = { ...deployment.env, TOLLGATE_IDENTITY_CLIENTS: JSON.stringify(declared) };

			await userWithPassword("ivy@example.org");
			const signedIn = await signIn(await discover("declared-spa"), "ivy@example.org");
			expect(signedIn.claims()?.aud).toBe("declared-spa");
			const worker = await discover("declared-worker", client.PrivateKeyJwt(keys.privateKey));
			const granted = await client.clientCredentialsGrant(worker);
			expect(await client.tokenIntrospection(worker, granted.access_token)).toMatchObject({
				active: true,
				client_id: "declared-worker",
			});
			// An assertion signed by any other key is refused.
			const stranger = await generateKeyPair("ES256");
			await expect(
				client.clientCredentialsGrant(
					await discover("declared-worker", client.PrivateKeyJwt(stranger.privateKey)),
				),
			).rejects.toMatchObject({ status: 401 });

			const listed = await runTollgate(["identity", "clients", "list"], env);
			expect(
				listed.stdout
					.trim()
					.split("\n")
					.map((line) => JSON.parse(line)),
			).toEqual([
				expect.objectContaining({ client_id: "declared-spa", source: "config" }),
				expect.objectContaining({
					client_id: "declared-worker",
					token_endpoint_auth_method: "private_key_jwt",
					source: "config",
				}),
			]);
			const removed = await runTollgate(["identity", "clients", "remove", "declared-spa"], env);
			expect(removed.code).toBe(1);
			expect(removed.stderr).toContain("declared in identity.clients");
			expect(
				(
					await runTollgate(
						["identity", "clients", "add", "declared-spa", "--redirect-uri", REDIRECT_URI],
						env,
					)
				).code,
			).toBe(1);

			// The same keys for a client added from the command line: no secret is made for it.
			const added = await runTollgate(
				[
					"identity",
					"clients",
					"add",
					"cli-worker",
					"--grant-types",
					"client_credentials",
					"--jwks",
					jwksFile,
				],
				env,
			);
			expect(added.code, added.stderr).toBe(0);
			expect(added.stdout).not.toContain("client_secret");
			const cliWorker = await discover("cli-worker", client.PrivateKeyJwt(keys.privateKey));
			expect((await client.clientCredentialsGrant(cliWorker)).access_token).toBeDefined();
			// A file with the private key in it is refused: the server must never hold it.
			const privateFile = join(dir, "private.json");
			await writeFile(privateFile, JSON.stringify({ keys: [await exportJWK(keys.privateKey)] }));
			const refused = await runTollgate(
				[
					"identity",
					"clients",
					"add",
					"leaky",
					"--grant-types",
					"client_credentials",
					"--jwks",
					privateFile,
				],
				env,
			);
			expect(refused.code).not.toBe(0);
			expect(refused.stderr).toContain("private key");
		});

		it("an API's access token is a JWT (RFC 9068) for that audience with the account's roles; an unknown API is refused", async () => {
			const api = "https://api.example.org/";
			await restartWith({ resources: [api] });
			const userId = await userWithPassword("gina@example.org");
			await cli("identity", "clients", "add", "spa", "--redirect-uri", REDIRECT_URI);
			const config = await discover("spa");
			const verifier = client.randomPKCECodeVerifier();
			const callback = await authorize(
				client.buildAuthorizationUrl(config, {
					redirect_uri: REDIRECT_URI,
					scope: "openid api",
					resource: api,
					code_challenge: await client.calculatePKCECodeChallenge(verifier),
					code_challenge_method: "S256",
				}),
				"gina@example.org",
			);
			const tokens = await client.authorizationCodeGrant(
				config,
				callback,
				{ pkceCodeVerifier: verifier },
				{ resource: api },
			);
			const { payload, protectedHeader } = await jwtVerify(
				tokens.access_token,
				createRemoteJWKSet(new URL(`${issuer}/oidc/jwks`)),
				{ issuer, audience: api, typ: "at+jwt" },
			);
			expect(protectedHeader.alg).toBe("RS256");
			expect(payload).toMatchObject({
				sub: userId,
				scope: "api",
				roles: ["staff"],
				client_id: "spa",
			});

			const refused = await fetch(
				client.buildAuthorizationUrl(config, {
					redirect_uri: REDIRECT_URI,
					scope: "openid api",
					resource: "https://elsewhere.example.org/",
					code_challenge: await client.calculatePKCECodeChallenge(verifier),
					code_challenge_method: "S256",
				}),
				{ redirect: "manual" },
			);
			expect(
				new URL(refused.headers.get("location") ?? "http://x/").searchParams.get("error"),
			).toBe("invalid_target");
		});
	});
}
