/**
 * A loopback stand-in for a GitLab instance ("datahub"), at the HTTP level. Its OAuth side is a real OpenID
 * Connect provider (oidc-provider) on GitLab's endpoints and claims (docs.gitlab.com/integration/openid_connect_provider,
 * /api/oauth2): /oauth/authorize, /oauth/token (code with PKCE, refresh with rotation: a used refresh token
 * revokes the grant), /oauth/revoke (RFC 7009), /oauth/userinfo, /oauth/discovery/keys; access tokens live
 * two hours; id_tokens carry sub (the user id), name, nickname, preferred_username. Its REST side follows
 * the REST API docs for what connect uses: GET /api/v4/user (Bearer OAuth token or personal access token,
 * `PRIVATE-TOKEN` too; 401 `{"message":"401 Unauthorized"}`), GET/HEAD /api/v4/projects with GitLab's
 * paging headers (X-Total, X-Total-Pages, X-Page, X-Per-Page, X-Next-Page, Link). A few test-only paths
 * (echo, flaky, redirects, a call that never answers) exercise the pass-through.
 */
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair } from "jose";
import type { KoaContextWithOIDC, Provider } from "oidc-provider";
import { FakeRepositories } from "./fake-gitlab-repos.ts";

export interface FakeGitLabUser {
	readonly id: number;
	readonly username: string;
	readonly name: string;
}

export interface FakeGitLabClient {
	readonly clientId: string;
	readonly clientSecret: string;
	readonly redirectUris: readonly string[];
}

const UNAUTHORIZED = { message: "401 Unauthorized" };
const EXPIRED = {
	error: "invalid_token",
	error_description: "Token is expired. You can either do re-authorization or token refresh.",
};
const PROJECTS_PER_PAGE = 20;
const KEPT_REQUESTS = 1_000;
const PROJECT_PAGES = 3;

function readBody(request: IncomingMessage): Promise<Buffer> {
	return new Promise((resolve, reject) => {
		const chunks: Buffer[] = [];
		request.on("data", (chunk: Buffer) => chunks.push(chunk));
		request.on("end", () => resolve(Buffer.concat(chunks)));
		request.on("error", reject);
	});
}

function json(response: ServerResponse, status: number, body: unknown, headers = {}): void {
	const text = JSON.stringify(body);
	response
		.writeHead(status, {
			"content-type": "application/json",
			"content-length": Buffer.byteLength(text),
			...headers,
		})
		.end(text);
}

function escapeHtml(text: string): string {
	return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

export class FakeGitLab {
	readonly users = new Map<number, FakeGitLabUser>();
	/** Every `grant_type` the token endpoint granted, in order. */
	readonly grants: string[] = [];
	/** Every access and refresh token issued (their values). */
	readonly issuedAccessTokens: string[] = [];
	readonly issuedRefreshTokens: string[] = [];
	/** REST requests answered so far. */
	apiRequestCount = 0;
	/** The latest REST requests (a thousand at most): method, path with query, and their headers. */
	readonly apiRequests: { method: string; url: string; headers: IncomingMessage["headers"] }[] = [];
	/** Answers /api/v4/flaky with 503 this many more times (with `flakyRetryAfter`, when set). */
	flakyFailures = 0;
	flakyRetryAfter: string | undefined;
	readonly #personalAccessTokens = new Map<string, number>();
	readonly #expiredAccessTokens = new Set<string>();
	readonly #hanging = new Set<ServerResponse>();
	readonly #server: Server;
	#provider: Provider | undefined;

	private constructor(server: Server, hasRepositories: boolean) {
		this.#server = server;
		this.repositories = hasRepositories ? new FakeRepositories(this.users) : undefined;
	}

	/** Its projects and their files, when started with `repositories` (the arcs tests). */
	readonly repositories: FakeRepositories | undefined;

	/** Listens on loopback at `port` (any free one by default). */
	static async start(
		port = 0,
		options: { readonly repositories?: boolean } = {},
	): Promise<FakeGitLab> {
		const server = createServer();
		const fake = new FakeGitLab(server, options.repositories === true);
		server.listen(port, "127.0.0.1");
		await once(server, "listening");
		server.on("request", (request, response) => {
			fake.#handle(request, response).catch((error: unknown) => {
				response.writeHead(500).end(String(error));
			});
		});
		return fake;
	}

	get url(): string {
		return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
	}

	/** Registers the OAuth application (as an admin does at /admin/applications) and starts the provider. */
	async register(client: FakeGitLabClient): Promise<void> {
		const { default: OidcProvider } = await import("oidc-provider");
		const { privateKey } = await generateKeyPair("RS256", { extractable: true });
		const users = this.users;
		const provider = new OidcProvider(this.url, {
			clients: [
				{
					client_id: client.clientId,
					client_secret: client.clientSecret,
					redirect_uris: [...client.redirectUris],
					grant_types: ["authorization_code", "refresh_token"],
					token_endpoint_auth_method: "client_secret_post",
				},
			],
			jwks: { keys: [{ ...(await exportJWK(privateKey)), alg: "RS256", use: "sig", kid: "fake" }] },
			cookies: { keys: [randomBytes(32).toString("base64url")] },
			routes: {
				authorization: "/oauth/authorize",
				token: "/oauth/token",
				revocation: "/oauth/revoke",
				introspection: "/oauth/introspect",
				userinfo: "/oauth/userinfo",
				jwks: "/oauth/discovery/keys",
			},
			scopes: ["openid", "profile", "email", "api", "read_user", "read_api"],
			claims: {
				openid: ["sub"],
				profile: ["name", "nickname", "preferred_username", "profile", "picture", "website"],
				email: ["email", "email_verified"],
			},
			conformIdTokenClaims: false,
			features: {
				devInteractions: { enabled: false },
				revocation: { enabled: true },
				introspection: { enabled: true },
			},
			pkce: { required: () => true },
			rotateRefreshToken: true,
			issueRefreshToken: async () => true,
			ttl: { AccessToken: 7_200, AuthorizationCode: 600, IdToken: 3_600, RefreshToken: 86_400 },
			interactions: {
				url: (_ctx: KoaContextWithOIDC, interaction) => `/interaction/${interaction.uid}`,
			},
			async findAccount(_ctx: KoaContextWithOIDC, sub: string) {
				const user = users.get(Number(sub));
				if (user === undefined) return undefined;
				return {
					accountId: sub,
					claims: async () => ({
						sub,
						name: user.name,
						nickname: user.username,
						preferred_username: user.username,
						profile: `https://gitlab.example/${user.username}`,
						email: `${user.username}@example.org`,
						email_verified: true,
					}),
				};
			},
		});
		provider.on("grant.success", (ctx: KoaContextWithOIDC) => {
			this.grants.push(String(ctx.oidc.params?.grant_type));
		});
		provider.on("access_token.saved", (token: { jti: string }) => {
			this.issuedAccessTokens.push(token.jti);
		});
		// Typed only in part by @types/oidc-provider; the event exists for every token model.
		(provider as unknown as NodeJS.EventEmitter).on(
			"refresh_token.saved",
			(token: { jti: string }) => {
				this.issuedRefreshTokens.push(token.jti);
			},
		);
		this.#provider = provider;
	}

	addUser(user: FakeGitLabUser): void {
		this.users.set(user.id, user);
	}

	/** A personal access token of a user (`glpat-…`, as GitLab makes them), or the one given. */
	addPersonalAccessToken(
		userId: number,
		token = `glpat-${randomBytes(15).toString("base64url")}`,
	): string {
		this.#personalAccessTokens.set(token, userId);
		return token;
	}

	/** Every access token issued so far is answered as expired from now on (their two hours are up). */
	expireAccessTokens(): void {
		for (const token of this.issuedAccessTokens) this.#expiredAccessTokens.add(token);
	}

	/** Revokes every refresh token issued so far (as a user revoking the application does). */
	async revokeRefreshTokens(): Promise<void> {
		for (const value of this.issuedRefreshTokens)
			await (await this.#providerOrThrow().RefreshToken.find(value))?.destroy();
	}

	/** Whether the hub still accepts an access token (not revoked, not expired). */
	async acceptsAccessToken(value: string): Promise<boolean> {
		return (await this.#userOfBearer(value)) !== null;
	}

	grantsOf(type: string): number {
		return this.grants.filter((grant) => grant === type).length;
	}

	async close(): Promise<void> {
		for (const response of this.#hanging) response.destroy();
		this.#server.closeAllConnections();
		await new Promise((resolve) => this.#server.close(resolve));
	}

	#providerOrThrow(): Provider {
		if (this.#provider === undefined) throw new Error("register() the OAuth application first");
		return this.#provider;
	}

	async #userOfBearer(token: string): Promise<number | null> {
		const personal = this.#personalAccessTokens.get(token);
		if (personal !== undefined) return personal;
		if (this.#expiredAccessTokens.has(token)) return null;
		const found = await this.#providerOrThrow().AccessToken.find(token);
		return found === undefined ? null : Number(found.accountId);
	}

	async #authenticate(request: IncomingMessage, response: ServerResponse): Promise<number | null> {
		const authorization = request.headers.authorization;
		const privateToken = request.headers["private-token"];
		const token =
			typeof privateToken === "string"
				? privateToken
				: authorization?.startsWith("Bearer ")
					? authorization.slice("Bearer ".length)
					: null;
		if (token === null) {
			json(response, 401, UNAUTHORIZED);
			return null;
		}
		if (this.#expiredAccessTokens.has(token)) {
			json(response, 401, EXPIRED, {
				"www-authenticate": `Bearer realm="Protected by OAuth 2.0", error="invalid_token", error_description="${EXPIRED.error_description}"`,
			});
			return null;
		}
		const userId = await this.#userOfBearer(token);
		if (userId === null) json(response, 401, UNAUTHORIZED);
		return userId;
	}

	/** Git over HTTPS credentials: Basic `oauth2:<OAuth token>` or `<username>:<personal access token>`. */
	async #userOfBasic(request: IncomingMessage, response: ServerResponse): Promise<number | null> {
		const authorization = request.headers.authorization ?? "";
		const password = authorization.startsWith("Basic ")
			? Buffer.from(authorization.slice("Basic ".length), "base64")
					.toString("utf8")
					.split(":")
					.slice(1)
					.join(":")
			: "";
		const userId = password === "" ? null : await this.#userOfBearer(password);
		if (userId === null)
			response
				.writeHead(401, {
					"www-authenticate": 'Basic realm="GitLab"',
					"content-type": "application/vnd.git-lfs+json",
				})
				.end(JSON.stringify({ message: "Access forbidden. Check your access level." }));
		return userId;
	}

	async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
		const url = new URL(request.url ?? "/", this.url);
		if (url.pathname.startsWith("/api/v4/")) {
			this.apiRequestCount += 1;
			this.apiRequests.push({
				method: request.method ?? "",
				url: `${url.pathname}${url.search}`,
				headers: request.headers,
			});
			if (this.apiRequests.length > KEPT_REQUESTS) this.apiRequests.shift();
			return this.#api(request, response, url);
		}
		if (this.repositories !== undefined && /\.git\/(info\/lfs|gitlab-lfs)\//.test(url.pathname)) {
			const userId = await this.#userOfBasic(request, response);
			if (userId === null) return;
			if (
				await this.repositories.handleLfs(request, response, url, userId, this.url, () =>
					readBody(request),
				)
			)
				return;
			return json(response, 404, { message: "404 Not Found" });
		}
		const interaction = /^\/interaction\/([\w-]+)(\/login)?$/.exec(url.pathname);
		if (interaction !== null)
			return this.#interaction(request, response, interaction[2] !== undefined);
		this.#providerOrThrow().callback()(request, response);
	}

	async #interaction(
		request: IncomingMessage,
		response: ServerResponse,
		isSubmit: boolean,
	): Promise<void> {
		const provider = this.#providerOrThrow();
		const details = await provider.interactionDetails(request, response);
		const form = (message: string): void => {
			response
				.writeHead(200, { "content-type": "text/html; charset=utf-8" })
				.end(
					`<!doctype html><title>Sign in · GitLab</title><h1>GitLab</h1><p>${escapeHtml(message)}</p>` +
						`<form method="post" action="/interaction/${details.uid}/login">` +
						`<label>Username or primary email <input name="username" autocomplete="username"></label>` +
						`<label>Password <input name="password" type="password"></label>` +
						`<button type="submit">Sign in</button></form>`,
				);
		};
		if (!isSubmit || request.method !== "POST")
			return form("Sign in to authorize the application.");
		const username = new URLSearchParams((await readBody(request)).toString("utf8")).get(
			"username",
		);
		const user = [...this.users.values()].find((candidate) => candidate.username === username);
		if (user === undefined) return form("Invalid login or password.");
		const grant = new provider.Grant({
			accountId: String(user.id),
			clientId: String(details.params.client_id),
		});
		grant.addOIDCScope(String(details.params.scope));
		const grantId = await grant.save();
		await provider.interactionFinished(
			request,
			response,
			{ login: { accountId: String(user.id) }, consent: { grantId } },
			{ mergeWithLastSubmission: false },
		);
	}

	async #api(request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> {
		const path = url.pathname;
		if (path === "/api/v4/redirect-away")
			return void response
				.writeHead(302, { location: "http://169.254.169.254/latest/meta-data" })
				.end();
		if (path === "/api/v4/redirect-home")
			return void response.writeHead(302, { location: `${this.url}/api/v4/user` }).end();
		if (path === "/api/v4/flaky") {
			if (this.flakyFailures > 0) {
				this.flakyFailures -= 1;
				return json(
					response,
					503,
					{ message: "503 Service Unavailable" },
					{
						...(this.flakyRetryAfter === undefined ? {} : { "retry-after": this.flakyRetryAfter }),
					},
				);
			}
			return json(response, 200, { ok: true });
		}
		const hasCredential =
			request.headers.authorization !== undefined || request.headers["private-token"] !== undefined;
		if (!hasCredential && this.repositories !== undefined) {
			if (await this.repositories.handle(request, response, url, null, () => readBody(request)))
				return;
			return json(response, 401, UNAUTHORIZED);
		}
		const userId = await this.#authenticate(request, response);
		if (userId === null) return;
		if (
			path !== "/api/v4/user" &&
			(await this.repositories?.handle(request, response, url, userId, () => readBody(request)))
		)
			return;
		const user = this.users.get(userId);
		if (user === undefined) return json(response, 401, UNAUTHORIZED);
		if (path === "/api/v4/user" && request.method === "GET")
			return json(response, 200, {
				id: user.id,
				username: user.username,
				name: user.name,
				state: "active",
				avatar_url: null,
				web_url: `https://gitlab.example/${user.username}`,
			});
		if (path === "/api/v4/projects" && (request.method === "GET" || request.method === "HEAD"))
			return this.#projects(request, response, url);
		if (path === "/api/v4/hang") {
			this.#hanging.add(response);
			return;
		}
		if (path.startsWith("/api/v4/projects/") && path.endsWith("/echo")) {
			const body = await readBody(request);
			return json(response, request.method === "POST" ? 201 : 200, {
				method: request.method,
				bytes: body.length,
				sha256: createHash("sha256").update(body).digest("hex"),
				content_type: request.headers["content-type"] ?? null,
				query: url.search,
			});
		}
		json(response, 404, { message: "404 Not Found" });
	}

	#projects(request: IncomingMessage, response: ServerResponse, url: URL): void {
		const page = Math.min(
			Math.max(Number(url.searchParams.get("page") ?? "1") || 1, 1),
			PROJECT_PAGES,
		);
		const link = (number: number, rel: string) =>
			`<${this.url}/api/v4/projects?page=${number}&per_page=${PROJECTS_PER_PAGE}>; rel="${rel}"`;
		const headers = {
			"x-total": String(PROJECT_PAGES * PROJECTS_PER_PAGE),
			"x-total-pages": String(PROJECT_PAGES),
			"x-page": String(page),
			"x-per-page": String(PROJECTS_PER_PAGE),
			"x-next-page": page < PROJECT_PAGES ? String(page + 1) : "",
			"x-prev-page": page > 1 ? String(page - 1) : "",
			link: [
				...(page < PROJECT_PAGES ? [link(page + 1, "next")] : []),
				link(1, "first"),
				link(PROJECT_PAGES, "last"),
			].join(", "),
		};
		// About 1 KiB: what the bench's "1 KiB upstream JSON" names.
		const projects = [1, 2, 3, 4].map((index) => ({
			id: (page - 1) * PROJECTS_PER_PAGE + index,
			name: `arc-${index}`,
			path_with_namespace: `group/arc-${index}`,
			default_branch: "main",
			web_url: `https://gitlab.example/group/arc-${index}`,
			last_activity_at: "2026-11-30T12:00:00.000Z",
			description: "An annotated research context".padEnd(96, "."),
		}));
		if (request.method === "HEAD") {
			response.writeHead(200, { "content-type": "application/json", ...headers }).end();
			return;
		}
		json(response, 200, projects, headers);
	}
}
