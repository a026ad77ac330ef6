/**
 * A loopback stand-in for an InvenioRDM instance's draft files, at the HTTP level, as its REST API
 * documents them (inveniordm.docs.cern.ch/reference/rest_api_drafts_records): `POST
 * /api/records/{id}/draft/files` with `[{"key": …}]` starts uploads (201, entries `pending`), `PUT
 * …/files/{key}/content` takes the bytes (application/octet-stream), `POST …/files/{key}/commit`
 * completes the file (`completed`, md5 checksum, size). Bearer tokens: none or unknown is 401, another
 * user's draft is 403 (`{"status", "message"}` bodies); an unknown record is 404. Files are kept so a test
 * can read them back.
 */
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeInvenioFile {
	status: "pending" | "completed";
	content: Buffer | null;
}

interface FakeDraft {
	readonly ownerToken: string;
	readonly files: Map<string, FakeInvenioFile>;
}

export interface FakeInvenioRequest {
	readonly method: string;
	readonly url: string;
	readonly authorization: string | undefined;
	readonly contentType: string | undefined;
	readonly transferEncoding: string | undefined;
}

function reply(response: ServerResponse, status: number, body: unknown): void {
	const text = JSON.stringify(body);
	response
		.writeHead(status, {
			"content-type": "application/json",
			"content-length": Buffer.byteLength(text),
		})
		.end(text);
}

async function bodyOf(request: IncomingMessage): Promise<Buffer> {
	const pieces: Buffer[] = [];
	for await (const piece of request) pieces.push(piece as Buffer);
	return Buffer.concat(pieces);
}

export class FakeInvenio {
	/** Every request received, in order. */
	readonly requests: FakeInvenioRequest[] = [];
	readonly #server: Server;
	readonly #tokens = new Set<string>();
	readonly #drafts = new Map<string, FakeDraft>();

	private constructor(server: Server) {
		this.#server = server;
	}

	static async start(): Promise<FakeInvenio> {
		const server = createServer();
		const fake = new FakeInvenio(server);
		server.listen(0, "127.0.0.1");
		await once(server, "listening");
		server.on("request", (request, response) => {
			fake.#handle(request, response).catch((error: unknown) => {
				reply(response, 500, { status: 500, message: String(error) });
			});
		});
		return fake;
	}

	/** Its origin, as arcs.invenio_origins names it. */
	get origin(): string {
		return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
	}

	/** A personal access token of a new user (Applications → Personal access tokens). */
	addToken(): string {
		const token = randomBytes(30).toString("base64url");
		this.#tokens.add(token);
		return token;
	}

	/** A new draft record of the token's user; returns its id (`xxxxx-xxxxx`). */
	addDraft(ownerToken: string): string {
		const id = `${randomBytes(3).toString("hex").slice(0, 5)}-${randomBytes(3).toString("hex").slice(0, 5)}`;
		this.#drafts.set(id, { ownerToken, files: new Map() });
		return id;
	}

	/** The draft's files by key. */
	files(recordId: string): ReadonlyMap<string, FakeInvenioFile> {
		return this.#drafts.get(recordId)?.files ?? new Map();
	}

	async close(): Promise<void> {
		this.#server.closeAllConnections();
		await new Promise((resolve) => this.#server.close(resolve));
	}

	async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
		const method = request.method ?? "GET";
		const url = new URL(request.url ?? "/", this.origin);
		this.requests.push({
			method,
			url: `${url.pathname}${url.search}`,
			authorization: request.headers.authorization,
			contentType: request.headers["content-type"],
			transferEncoding: request.headers["transfer-encoding"],
		});
		const match = /^\/api\/records\/([^/]+)\/draft\/files(?:\/([^/]+)(\/content|\/commit)?)?$/.exec(
			url.pathname,
		);
		if (match === null) return reply(response, 404, { status: 404, message: "Not Found" });
		const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? "")?.[1];
		if (token === undefined || !this.#tokens.has(token))
			return reply(response, 401, {
				status: 401,
				message: "The server could not verify that you are authorized to access the URL requested.",
			});
		const draft = this.#drafts.get(decodeURIComponent(match[1] ?? ""));
		if (draft === undefined)
			return reply(response, 404, {
				status: 404,
				message: "The persistent identifier does not exist.",
			});
		if (draft.ownerToken !== token)
			return reply(response, 403, { status: 403, message: "Permission denied." });
		const key = match[2] === undefined ? undefined : decodeURIComponent(match[2]);
		const action = match[3];
		if (key === undefined && method === "POST") return this.#start(draft, request, response);
		const file = key === undefined ? undefined : draft.files.get(key);
		if (key === undefined || file === undefined)
			return reply(response, 404, { status: 404, message: `File with key ${key} not found.` });
		if (action === "/content" && method === "PUT") {
			if (request.headers["content-type"] !== "application/octet-stream")
				return reply(response, 400, {
					status: 400,
					message: "Content-Type must be application/octet-stream.",
				});
			file.content = await bodyOf(request);
			return reply(response, 200, { key, status: "pending" });
		}
		if (action === "/commit" && method === "POST") {
			if (file.content === null)
				return reply(response, 400, { status: 400, message: "The file has no content." });
			file.status = "completed";
			return reply(response, 200, {
				key,
				status: "completed",
				size: file.content.length,
				checksum: `md5:${createHash("md5").update(file.content).digest("hex")}`,
				mimetype: "application/zip",
			});
		}
		reply(response, 405, { status: 405, message: "Method Not Allowed" });
	}

	async #start(
		draft: FakeDraft,
		request: IncomingMessage,
		response: ServerResponse,
	): Promise<void> {
		let entries: unknown;
		try {
			entries = JSON.parse((await bodyOf(request)).toString("utf8"));
		} catch {
			return reply(response, 400, { status: 400, message: "The request body is not JSON." });
		}
		if (
			!Array.isArray(entries) ||
			!entries.every((entry) => typeof entry?.key === "string" && entry.key !== "")
		)
			return reply(response, 400, {
				status: 400,
				message: "A list of objects with a key each is required.",
				errors: [{ field: "key", messages: ["Missing data for required field."] }],
			});
		const keys = entries.map((entry: { key: string }) => entry.key);
		const taken = keys.find((key) => draft.files.has(key));
		if (taken !== undefined)
			return reply(response, 400, {
				status: 400,
				message: `File with key ${taken} already exists.`,
			});
		for (const key of keys) draft.files.set(key, { status: "pending", content: null });
		reply(response, 201, {
			enabled: true,
			default_preview: null,
			order: [],
			entries: keys.map((key) => ({ key, status: "pending", metadata: null })),
		});
	}
}
