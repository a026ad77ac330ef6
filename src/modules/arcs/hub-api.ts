/**
 * GitLab's REST API v4 as the arcs routes use it, through connect (the user's token, retries, timeouts):
 * JSON in and out, every page of a listing, and the hub's refusals turned into the statuses the frontend
 * expects, with GitLab's own message as text (never the original's Python bytes repr, §0.2 #13). A file
 * edit that lost a race (GitLab's "changed since you started editing") is 409.
 */
import type { Readable } from "node:stream";
import type { FastifyRequest } from "fastify";
import { z } from "zod";
import { AppError } from "#errors";
import type {
	ConnectService,
	ConnectSession,
	UpstreamAnswer,
	UpstreamMethod,
} from "#modules/connect";

const STALE_EDIT = /changed since you started editing/i;
const PAGE_SIZE = 100;
/** A listing stops here even if the hub says there is more (a runaway repository, not an ARC). */
const MAX_PAGES = 200;

export interface HubAnswer {
	readonly status: number;
	readonly headers: UpstreamAnswer["headers"];
	readonly json: unknown;
}

function headerOf(
	answer: { headers: UpstreamAnswer["headers"] },
	name: string,
): string | undefined {
	const value = answer.headers[name];
	return Array.isArray(value) ? value[0] : value;
}

export function totalPagesOf(answer: { headers: UpstreamAnswer["headers"] }): string {
	return headerOf(answer, "x-total-pages") ?? "1";
}

const errorFields = z.looseObject({
	message: z.unknown().optional(),
	error_description: z.unknown().optional(),
	error: z.unknown().optional(),
});

/** GitLab's error text: `message` (a string, or an object of field errors), else the OAuth fields. */
function messageOf(json: unknown, fallback: string): string {
	const fields = errorFields.safeParse(json);
	if (!fields.success) return typeof json === "string" && json !== "" ? json : fallback;
	const value = fields.data.message ?? fields.data.error_description ?? fields.data.error;
	if (value === undefined) return fallback;
	return typeof value === "string" ? value : JSON.stringify(value);
}

/** The error a refused hub call becomes. */
export function refusal(answer: HubAnswer, what: string): AppError {
	const description = `${what}: ${messageOf(answer.json, `the DataHUB answered ${answer.status}`)}`;
	if (answer.status === 401)
		return new AppError("unauthorized", {
			description:
				"The DataHUB did not accept your login: please refresh your session or login again.",
		});
	if (answer.status === 403) return new AppError("forbidden", { description });
	if (answer.status === 404) return new AppError("not_found", { description });
	if (answer.status === 409 || STALE_EDIT.test(description))
		return new AppError("conflict", { description });
	if (answer.status === 429) return new AppError("rate_limited", { description });
	if (answer.status >= 500)
		return new AppError("upstream_error", { description, cause: description });
	return new AppError("invalid_request", { description });
}

async function parsed(answer: UpstreamAnswer, method: UpstreamMethod): Promise<HubAnswer> {
	const text = method === "HEAD" ? "" : await answer.body.text();
	let json: unknown = null;
	if (text !== "") {
		try {
			json = JSON.parse(text);
		} catch {
			json = text;
		}
	}
	return { status: answer.status, headers: answer.headers, json };
}

export class HubApi {
	readonly #connect: ConnectService;
	readonly #session: ConnectSession;

	constructor(connect: ConnectService, session: ConnectSession) {
		this.#connect = connect;
		this.#session = session;
	}

	/** One call; the answer whatever its status. */
	async call(
		method: UpstreamMethod,
		path: string,
		options: { query?: URLSearchParams; json?: unknown; form?: URLSearchParams } = {},
	): Promise<HubAnswer> {
		const body =
			options.json !== undefined
				? JSON.stringify(options.json)
				: options.form !== undefined
					? options.form.toString()
					: null;
		const answer = await this.#connect.call(this.#session, {
			method,
			path: `/api/v4${path}`,
			query: options.query?.toString() ?? "",
			headers: {
				accept: "application/json",
				...(options.json !== undefined ? { "content-type": "application/json" } : {}),
				...(options.form !== undefined
					? { "content-type": "application/x-www-form-urlencoded" }
					: {}),
			},
			body,
		});
		return parsed(answer, method);
	}

	/**
	 * A call whose body is streamed (sent once: never retried), below the hub's base path (`/api/v4/…` or
	 * a repository's `/<namespace>.git/…`), with the token sent as `credential` says.
	 */
	async stream(
		method: UpstreamMethod,
		path: string,
		options: {
			body: Readable | string | null;
			headers: Readonly<Record<string, string>>;
			credential: "bearer" | "git-basic" | "none";
			query?: URLSearchParams;
		},
	): Promise<HubAnswer> {
		const answer = await this.#connect.call(this.#session, {
			method,
			path,
			query: options.query?.toString() ?? "",
			headers: options.headers,
			body: options.body,
			credential: options.credential,
		});
		return parsed(answer, method);
	}

	/**
	 * The path below the hub's base that an absolute URL the hub handed out (an LFS action's `href`) names,
	 * with its query; null when it points anywhere else (another host, or outside the hub's base path).
	 */
	hubPathOf(href: string): { path: string; query: URLSearchParams } | null {
		let url: URL;
		try {
			url = new URL(href);
		} catch {
			return null;
		}
		const { apiOrigin, apiBasePath } = this.#session.hub;
		if (url.origin !== apiOrigin || !url.pathname.startsWith(`${apiBasePath}/`)) return null;
		return { path: url.pathname.slice(apiBasePath.length), query: url.searchParams };
	}

	/** A call that must succeed. @throws AppError from `refusal` otherwise. */
	async ok(
		method: UpstreamMethod,
		path: string,
		what: string,
		options: { query?: URLSearchParams; json?: unknown; form?: URLSearchParams } = {},
	): Promise<HubAnswer> {
		const answer = await this.call(method, path, options);
		if (answer.status < 200 || answer.status >= 300) throw refusal(answer, what);
		return answer;
	}

	/** A file's bytes and the commit it was read at (for an edit that must not lose a concurrent one). */
	async fileBytes(
		projectId: number,
		path: string,
		ref: string,
	): Promise<{ bytes: Buffer; lastCommitId: string }> {
		const answer = await this.ok("GET", filePath(projectId, path), "No such file", {
			query: new URLSearchParams({ ref }),
		});
		const file = z
			.looseObject({ content: z.string(), last_commit_id: z.string() })
			.parse(answer.json);
		return { bytes: Buffer.from(file.content, "base64"), lastCommitId: file.last_commit_id };
	}

	/**
	 * A file's raw bytes; with `lfs`, the Git LFS object a pointer names rather than the pointer (GitLab's
	 * `lfs=true`). @throws AppError from `refusal`.
	 */
	async rawFile(
		projectId: number,
		path: string,
		ref: string,
		options: { lfs: boolean },
	): Promise<Buffer> {
		const query = new URLSearchParams({ ref });
		if (options.lfs) query.set("lfs", "true");
		const answer = await this.#connect.call(this.#session, {
			method: "GET",
			path: `/api/v4${filePath(projectId, path, "/raw")}`,
			query: query.toString(),
			headers: {},
		});
		if (answer.status < 200 || answer.status >= 300)
			throw refusal(await parsed(answer, "GET"), "Could not read the file");
		return Buffer.from(await answer.body.arrayBuffer());
	}

	/** Every page of a listing, concatenated (the original read only the first of several). */
	async all(path: string, what: string, query = new URLSearchParams()): Promise<unknown[]> {
		const items: unknown[] = [];
		for (let page = 1; page <= MAX_PAGES; page += 1) {
			const pageQuery = new URLSearchParams(query);
			pageQuery.set("per_page", String(PAGE_SIZE));
			pageQuery.set("page", String(page));
			const answer = await this.ok("GET", path, what, { query: pageQuery });
			if (Array.isArray(answer.json)) items.push(...answer.json);
			const next = headerOf(answer, "x-next-page");
			if (next === undefined || next === "" || !Array.isArray(answer.json)) break;
		}
		return items;
	}
}

/** The hub API as the request's signed-in user. @throws AppError unauthorized (401) without a login. */
export async function hubApiOf(connect: ConnectService, request: FastifyRequest): Promise<HubApi> {
	const { session } = await connect.requireSession(request);
	return new HubApi(connect, session);
}

/** `/projects/<id>/repository/files/<path>`: the path is one segment, `/` encoded (§4.3). */
export function filePath(projectId: number, path: string, suffix = ""): string {
	return `/projects/${projectId}/repository/files/${encodeURIComponent(path)}${suffix}`;
}

export { MAX_PAGES, PAGE_SIZE };
