/**
 * InvenioRDM's draft-file REST API (inveniordm.docs.cern.ch/reference/rest_api_drafts_records: start a
 * draft file upload, upload its content, complete it), as publishArc uses it (specs/arcmanager.md §6.11).
 * Only the configured origins are ever called, each through one keep-alive pool with timeouts, and no
 * redirect is followed, so a record address cannot send Tollgate anywhere else. The user's Invenio token
 * goes into the Authorization header of these calls only: it is never logged or kept.
 */
import type { Readable } from "node:stream";
import { type Dispatcher, Pool } from "undici";
import { z } from "zod";
import { AppError } from "#errors";

const CONNECT_TIMEOUT_MS = 10_000;
/** How long Invenio may take to answer once a request is sent (it checksums an upload first). */
const ANSWER_TIMEOUT_MS = 120_000;
const POOL_CONNECTIONS = 8;
const MAX_ERROR_TEXT_BYTES = 16 * 1024;
const MAX_DETAIL_CHARS = 500;
const RECORD_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const BASE_PATH = /^(?:\/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)*$/;

/** The draft of a record at one Invenio instance, from the address its deposit page shows. */
export interface InvenioDraft {
	readonly origin: string;
	/** Where the instance lives below its origin ("" at the root): its API is `<basePath>/api`. */
	readonly basePath: string;
	readonly recordId: string;
}

/**
 * `https://fdat.uni-tuebingen.de/uploads/12345-vwxyz` (the deposit page, as the original took it) or
 * `…/records/12345-vwxyz`; null for anything else (another scheme, credentials in the URL, a path that
 * names no record).
 */
export function invenioDraftOf(address: string): InvenioDraft | null {
	if (!URL.canParse(address)) return null;
	const url = new URL(address);
	if (url.protocol !== "https:" && url.protocol !== "http:") return null;
	if (url.username !== "" || url.password !== "") return null;
	const match = /^(.*)\/(?:uploads|records)\/([^/]+)\/?$/.exec(url.pathname);
	const basePath = match?.[1] ?? "";
	const recordId = match?.[2] ?? "";
	if (!RECORD_ID.test(recordId) || !BASE_PATH.test(basePath)) return null;
	return { origin: url.origin, basePath, recordId };
}

/** A publishArc failure at Invenio: its message is what the user is shown, whatever the status. */
class InvenioFailure extends AppError {
	constructor(
		code: "forbidden" | "upstream_error" | "upstream_unavailable",
		detail: string,
		cause?: string,
	) {
		super(code, { description: detail, cause: cause ?? detail });
		this.name = "InvenioFailure";
	}
}

const errorAnswer = z.looseObject({
	message: z.string().optional(),
	errors: z
		.array(
			z.looseObject({ field: z.string().optional(), messages: z.array(z.string()).optional() }),
		)
		.optional(),
});

/** Invenio's own words for a refusal: `message`, and the field errors after it. */
function messageOf(text: string, status: number): string {
	let json: unknown = null;
	try {
		json = JSON.parse(text);
	} catch {
		json = null;
	}
	const parsed = errorAnswer.safeParse(json);
	const parts = parsed.success
		? [
				parsed.data.message ?? "",
				...(parsed.data.errors ?? []).map(
					(error) => `${error.field ?? ""}: ${(error.messages ?? []).join(" ")}`,
				),
			].filter((part) => part !== "")
		: [];
	const message = parts.length > 0 ? parts.join("; ") : text.trim() || `status ${status}`;
	return message.length > MAX_DETAIL_CHARS ? `${message.slice(0, MAX_DETAIL_CHARS)}…` : message;
}

async function boundedText(body: Readable): Promise<string> {
	const pieces: Buffer[] = [];
	let size = 0;
	for await (const piece of body) {
		const bytes = Buffer.from(piece);
		pieces.push(bytes);
		size += bytes.length;
		if (size >= MAX_ERROR_TEXT_BYTES) {
			body.destroy();
			break;
		}
	}
	return Buffer.concat(pieces).toString("utf8");
}

function reasonOf(error: unknown): string {
	if (!(error instanceof Error)) return String(error);
	const code = "code" in error && typeof error.code === "string" ? `${error.code}: ` : "";
	return `${code}${error.message}`;
}

export class InvenioClient {
	readonly #pools: ReadonlyMap<string, Pool>;

	/** `origins`: the instances that may be called (arcs.invenio_origins). */
	constructor(origins: readonly string[]) {
		this.#pools = new Map(
			origins.map((origin) => [
				origin,
				new Pool(origin, {
					connections: POOL_CONNECTIONS,
					connectTimeout: CONNECT_TIMEOUT_MS,
					headersTimeout: ANSWER_TIMEOUT_MS,
					bodyTimeout: ANSWER_TIMEOUT_MS,
				}),
			]),
		);
	}

	isAllowed(draft: InvenioDraft): boolean {
		return this.#pools.has(draft.origin);
	}

	/**
	 * Adds `key` to the draft's files with `content` (streamed, sent once) and completes it.
	 * @throws InvenioFailure forbidden (Invenio refused the token), upstream_error (any other refusal,
	 * with Invenio's message), upstream_unavailable (no answer in time, or the content stream failed).
	 */
	async addFile(
		draft: InvenioDraft,
		key: string,
		token: string,
		content: { readonly body: Readable; readonly lengthBytes?: number },
	): Promise<void> {
		const json = { accept: "application/json", "content-type": "application/json" };
		await this.#call(draft, token, "POST", "", json, JSON.stringify([{ key }]));
		const file = `/${encodeURIComponent(key)}`;
		await this.#call(
			draft,
			token,
			"PUT",
			`${file}/content`,
			{
				accept: "application/json",
				"content-type": "application/octet-stream",
				...(content.lengthBytes === undefined
					? {}
					: { "content-length": String(content.lengthBytes) }),
			},
			content.body,
		);
		await this.#call(draft, token, "POST", `${file}/commit`, { accept: "application/json" }, null);
	}

	async close(): Promise<void> {
		await Promise.all([...this.#pools.values()].map((pool) => pool.close()));
	}

	async #call(
		draft: InvenioDraft,
		token: string,
		method: "POST" | "PUT",
		suffix: string,
		headers: Readonly<Record<string, string>>,
		body: string | Readable | null,
	): Promise<void> {
		const pool = this.#pools.get(draft.origin);
		if (pool === undefined)
			throw new AppError("forbidden", {
				description: `${draft.origin} is not a configured Invenio`,
			});
		const path = `${draft.basePath}/api/records/${encodeURIComponent(draft.recordId)}/draft/files${suffix}`;
		let answer: Dispatcher.ResponseData;
		try {
			answer = await pool.request({
				method,
				path,
				headers: { ...headers, authorization: `Bearer ${token}` },
				body,
			});
		} catch (error) {
			throw new InvenioFailure(
				"upstream_unavailable",
				`Invenio (${draft.origin}) did not answer`,
				`${method} ${path}: ${reasonOf(error)}`,
			);
		}
		const status = answer.statusCode;
		if (status >= 200 && status < 300) {
			await answer.body.dump();
			return;
		}
		if (status === 401 || status === 403) {
			await answer.body.dump();
			throw new InvenioFailure(
				"forbidden",
				"Invenio refused the token",
				`${method} ${path}: ${status}`,
			);
		}
		const message = messageOf(await boundedText(answer.body), status);
		throw new InvenioFailure(
			"upstream_error",
			`Invenio refused the upload: ${message}`,
			`${method} ${path}: ${status} ${message}`,
		);
	}
}
