/**
 * A Tollgate with the connect module listening on loopback, in front of a fake GitLab hub, and the HTTP
 * client side of a login: the browser's redirects followed by hand, with one cookie jar per site.
 */
import { randomBytes } from "node:crypto";
import { createServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { type AppBackend, buildTestApp, buildTestAppOn, type TestApp } from "./build-test-app.ts";
import { CookieJar } from "./cookie-jar.ts";
import { FakeGitLab, type FakeGitLabUser } from "./fake-gitlab.ts";
import type { FakeRepositories } from "./fake-gitlab-repos.ts";

export const HUB = "tuebingen";
export const PREFIX = "/arcmanager/api/v1";
export const CLIENT = { clientId: "arcmanager", clientSecret: "gitlab-application-secret" };
export const ALICE: FakeGitLabUser = { id: 4242, username: "alice", name: "Alice Müller" };
export const BOB: FakeGitLabUser = { id: 777, username: "bob", name: "Bob" };

export async function freePort(): Promise<number> {
	const probe = createServer();
	await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
	const { port } = probe.address() as AddressInfo;
	await new Promise((resolve) => probe.close(resolve));
	return port;
}

/** A token key for connect.token_keys: `<id>:<32 random bytes, base64url>`. */
export function tokenKey(id: string): string {
	return `${id}:${randomBytes(32).toString("base64url")}`;
}

export interface ConnectStack {
	readonly fake: FakeGitLab;
	readonly testApp: TestApp;
	/** Tollgate's origin, e.g. http://localhost:4321. */
	readonly base: string;
	close(): Promise<void>;
}

/** The connect section pointing at `fake`, its redirect URIs for `base`. */
export function connectSection(
	fake: FakeGitLab,
	base: string,
	extra: Record<string, unknown> = {},
): Record<string, unknown> {
	const { hubs: extraHubs = {}, ...rest } = extra;
	return {
		enabled: true,
		public_url: base,
		allow_http_hubs: true,
		hubs: {
			[HUB]: {
				issuer: fake.url,
				client_id: CLIENT.clientId,
				client_secret: CLIENT.clientSecret,
				display_name: "Tübingen",
			},
			...(extraHubs as Record<string, unknown>),
		},
		...rest,
	};
}

/** The fake hub's projects and files (a stack started with `repositories: true`). */
export function repositoriesOf(fake: FakeGitLab): FakeRepositories {
	const repositories = fake.repositories;
	if (repositories === undefined) throw new Error("the fake has no repositories");
	return repositories;
}

export async function startConnectStack(
	options: {
		backend?: AppBackend;
		connect?: Record<string, unknown>;
		overrides?: Record<string, unknown>;
		host?: string;
		/** The fake hub keeps projects and files (test/support/fake-gitlab-repos.ts). */
		repositories?: boolean;
	} = {},
): Promise<ConnectStack> {
	const fake = await FakeGitLab.start(0, { repositories: options.repositories ?? false });
	fake.addUser(ALICE);
	fake.addUser(BOB);
	const port = await freePort();
	const host = options.host ?? "127.0.0.1";
	const base = `http://${host === "localhost" ? "localhost" : "127.0.0.1"}:${port}`;
	await fake.register({
		...CLIENT,
		redirectUris: [`${base}${PREFIX}/auth/callback?datahub=${HUB}`],
	});
	const overrides = {
		http: { port },
		...options.overrides,
		connect: connectSection(fake, base, options.connect),
	};
	const testApp =
		options.backend === undefined
			? await buildTestApp(overrides)
			: await buildTestAppOn(options.backend, overrides);
	// openid validation runs on the real clock: the app's starts there too, and tests move it on.
	testApp.clock.advanceMs(Date.now() - testApp.clock.nowMs());
	await testApp.app.listen({ host: "127.0.0.1", port });
	return {
		fake,
		testApp,
		base,
		close: async () => {
			await testApp.close();
			await fake.close();
		},
	};
}

export interface HttpLogin {
	/** Tollgate's cookies as the browser keeps them. */
	readonly jar: CookieJar;
	/** Every Set-Cookie line Tollgate sent during the login. */
	readonly setCookies: string[];
	/** The callback's answer (307 to the app on success). */
	readonly callback: Response;
	/** The hub's authorization URL Tollgate sent the browser to. */
	readonly authorizeUrl: URL;
}

/** The redirects of a login, followed as a browser does, signing in at the hub as `username`. */
export async function loginOverHttp(
	base: string,
	fake: { readonly url: string },
	username: string,
	hub = HUB,
): Promise<HttpLogin> {
	const jar = new CookieJar({ respectPaths: true });
	const hubJar = new CookieJar({ respectPaths: true });
	const setCookies: string[] = [];
	const atTollgate = async (url: string) => {
		const response = await fetch(url, {
			redirect: "manual",
			headers: { cookie: jar.header(new URL(url).pathname) },
		});
		setCookies.push(...response.headers.getSetCookie());
		jar.store(response);
		return response;
	};
	const atHub = async (url: string, init: RequestInit = {}) => {
		const response = await fetch(new URL(url, fake.url), {
			...init,
			redirect: "manual",
			headers: {
				...(init.headers as Record<string, string>),
				cookie: hubJar.header(new URL(url, fake.url).pathname),
			},
		});
		hubJar.store(response);
		return response;
	};
	const login = await atTollgate(`${base}${PREFIX}/auth/login?datahub=${hub}`);
	if (login.status !== 302)
		throw new Error(`login answered ${login.status}: ${await login.text()}`);
	const authorizeUrl = new URL(login.headers.get("location") ?? "");
	const toInteraction = await atHub(authorizeUrl.href);
	const interaction = toInteraction.headers.get("location") ?? "";
	const signedIn = await atHub(`${interaction}/login`, {
		method: "POST",
		headers: { "content-type": "application/x-www-form-urlencoded" },
		body: new URLSearchParams({ username, password: "irrelevant" }).toString(),
	});
	const backToHub = await atHub(signedIn.headers.get("location") ?? "");
	const callbackUrl = backToHub.headers.get("location") ?? "";
	if (!callbackUrl.startsWith(base))
		throw new Error(`the hub answered ${backToHub.status} ${await backToHub.text()}`);
	const callback = await atTollgate(callbackUrl);
	return { jar, setCookies, callback, authorizeUrl };
}

export interface RawAnswer {
	readonly status: number;
	readonly headers: Record<string, string | string[] | undefined>;
	readonly body: string;
}

/** A request whose target is sent exactly as written (fetch would resolve `..` and re-encode). */
export function rawRequest(
	base: string,
	options: { method?: string; path: string; headers?: Record<string, string>; body?: Buffer },
): Promise<RawAnswer> {
	const url = new URL(base);
	return new Promise((resolve, reject) => {
		const outgoing = httpRequest(
			{
				host: url.hostname,
				port: url.port,
				method: options.method ?? "GET",
				path: options.path,
				headers: options.headers,
			},
			(response) => {
				const chunks: Buffer[] = [];
				response.on("data", (chunk: Buffer) => chunks.push(chunk));
				response.on("end", () =>
					resolve({
						status: response.statusCode ?? 0,
						headers: response.headers,
						body: Buffer.concat(chunks).toString("utf8"),
					}),
				);
			},
		);
		outgoing.on("error", reject);
		outgoing.end(options.body);
	});
}
