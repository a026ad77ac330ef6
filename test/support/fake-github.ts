/**
 * A loopback fake of the GitHub REST API's releases endpoints, shaped as GitHub documents them
 * (docs.github.com/rest/releases/releases, API version 2022-11-28): "List releases" (newest first,
 * `per_page`), "Get the latest release" (newest non-draft, non-prerelease; 404 when none), weak ETags with
 * `If-None-Match` → 304, and the primary rate limit (x-ratelimit-* headers; 403 once exhausted; a 304 to an
 * authorised request is free). GitHub refuses requests without a User-Agent, so the fake does too. An
 * outage can be switched on: every request then gets the one error status.
 */
import { createHash } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeReleaseInput {
	readonly tag: string;
	readonly name?: string | null;
	readonly body?: string | null;
	readonly prerelease?: boolean;
	readonly draft?: boolean;
	readonly assets?: readonly string[];
}

export interface LoggedRequest {
	readonly path: string;
	readonly ifNoneMatch: string | undefined;
	readonly authorization: string | undefined;
	readonly status: number;
}

const DOCS = "https://docs.github.com/rest";

export class FakeGitHub {
	readonly requests: LoggedRequest[] = [];
	/** Requests left in the current window; GitHub's unauthenticated limit is 60 an hour. */
	remaining = 60;
	resetEpochSeconds = Math.floor(Date.now() / 1_000) + 3_600;
	/** While set, GitHub has an outage: every request is answered with this status (500, 503…). */
	outageStatus: number | undefined;
	readonly #releases = new Map<string, object[]>();
	readonly #server: Server;
	#nextId = 1;

	private constructor(server: Server) {
		this.#server = server;
	}

	static async start(): Promise<FakeGitHub> {
		const server = createServer();
		const fake = new FakeGitHub(server);
		server.on("request", (request, response) => fake.#handle(request, response));
		server.listen(0, "127.0.0.1");
		await once(server, "listening");
		return fake;
	}

	get url(): string {
		return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
	}

	/** Publishes a release (newest first, as GitHub lists them by creation). */
	publish(repository: string, input: FakeReleaseInput): void {
		const id = this.#nextId++;
		const api = `${this.url}/repos/${repository}`;
		const created = new Date(Date.UTC(2026, 0, 1) + id * 60_000).toISOString();
		const release = {
			url: `${api}/releases/${id}`,
			html_url: `https://github.com/${repository}/releases/tag/${input.tag}`,
			assets_url: `${api}/releases/${id}/assets`,
			upload_url: `https://uploads.github.com/repos/${repository}/releases/${id}/assets{?name,label}`,
			tarball_url: `${api}/tarball/${input.tag}`,
			zipball_url: `${api}/zipball/${input.tag}`,
			id,
			node_id: `RE_${id}`,
			tag_name: input.tag,
			target_commitish: "master",
			name: input.name === undefined ? input.tag : input.name,
			body: input.body === undefined ? `Release notes for ${input.tag}` : input.body,
			draft: input.draft ?? false,
			prerelease: input.prerelease ?? false,
			created_at: created,
			published_at: input.draft ? null : created,
			author: { login: "release-bot", id: 1, type: "Bot" },
			assets: (input.assets ?? []).map((name, index) => ({
				url: `${api}/releases/assets/${id * 100 + index}`,
				browser_download_url: `https://github.com/${repository}/releases/download/${input.tag}/${name}`,
				id: id * 100 + index,
				node_id: `RA_${id * 100 + index}`,
				name,
				label: "",
				state: "uploaded",
				content_type: "application/octet-stream",
				size: 1_024,
				download_count: 0,
				created_at: created,
				updated_at: created,
			})),
		};
		this.#releases.set(repository, [release, ...(this.#releases.get(repository) ?? [])]);
	}

	async stop(): Promise<void> {
		this.#server.closeAllConnections();
		this.#server.close();
		await once(this.#server, "close");
	}

	#handle(request: IncomingMessage, response: ServerResponse): void {
		const url = new URL(request.url ?? "/", this.url);
		const ifNoneMatch = request.headers["if-none-match"];
		const authorization = request.headers.authorization;
		const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
			this.requests.push({
				path: `${url.pathname}${url.search}`,
				ifNoneMatch,
				authorization,
				status,
			});
			response.writeHead(status, {
				"x-ratelimit-limit": "60",
				"x-ratelimit-remaining": String(Math.max(this.remaining, 0)),
				"x-ratelimit-reset": String(this.resetEpochSeconds),
				"x-ratelimit-used": String(60 - Math.max(this.remaining, 0)),
				"x-ratelimit-resource": "core",
				"x-github-api-version-selected": "2022-11-28",
				...headers,
			});
			response.end(body === undefined ? undefined : JSON.stringify(body));
		};
		if (this.outageStatus !== undefined) {
			send(this.outageStatus, { message: "Service unavailable" });
			return;
		}
		if (!request.headers["user-agent"]) {
			send(403, {
				message:
					"Request forbidden by administrative rules. Please make sure your request has a User-Agent header.",
				documentation_url: `${DOCS}/overview/resources-in-the-rest-api#user-agent-required`,
			});
			return;
		}
		if (this.remaining <= 0) {
			send(403, {
				message: "API rate limit exceeded for 127.0.0.1.",
				documentation_url: `${DOCS}/overview/resources-in-the-rest-api#rate-limiting`,
			});
			return;
		}
		const match = /^\/repos\/([^/]+\/[^/]+)\/releases(\/latest)?$/.exec(url.pathname);
		// Every repository exists here; one with no releases lists none and has no latest.
		const releases = match === null ? undefined : (this.#releases.get(match[1] ?? "") ?? []);
		let body: unknown;
		if (match === null || releases === undefined) {
			body = undefined;
		} else if (match[2] === "/latest") {
			body = releases.find((release) => {
				const { draft, prerelease } = release as { draft: boolean; prerelease: boolean };
				return !draft && !prerelease;
			});
		} else {
			const perPage = Math.min(Number(url.searchParams.get("per_page") ?? 30), 100);
			const page = Number(url.searchParams.get("page") ?? 1);
			body = releases.slice((page - 1) * perPage, page * perPage);
		}
		if (body === undefined) {
			this.remaining -= 1;
			send(404, {
				message: "Not Found",
				documentation_url: `${DOCS}/releases/releases`,
				status: "404",
			});
			return;
		}
		const json = JSON.stringify(body);
		const etag = `W/"${createHash("sha256").update(json).digest("hex")}"`;
		if (ifNoneMatch === etag) {
			if (authorization === undefined) this.remaining -= 1;
			send(304, undefined, { etag });
			return;
		}
		this.remaining -= 1;
		send(200, body, { etag, "content-type": "application/json; charset=utf-8" });
	}
}
