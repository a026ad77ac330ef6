/**
 * The v4 inner request and reply (§7.3): a bencoded list of byte strings. Request `l<n>:<meta JSON>[<n>:<body>]e`,
 * reply always `l<n>:<meta JSON><n>:<body>e` with meta `{"code", "headers"}`.
 */
import { z } from "zod";
import { JsonBodyError, parseJsonBody } from "#lib/json-body";

export class V4RequestError extends Error {
	constructor(reason: string) {
		super(reason);
		this.name = "V4RequestError";
	}
}

const COLON = 0x3a;
const LIST_START = 0x6c; // "l"
const LIST_END = 0x65; // "e"

const requestMeta = z.object({
	method: z.enum(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]),
	endpoint: z.string().startsWith("/"),
	headers: z.record(z.string(), z.string()).optional(),
});

export interface V4Request {
	/** One of the methods the module routes answer (what Fastify's inject takes). */
	readonly method: z.output<typeof requestMeta>["method"];
	readonly endpoint: string;
	readonly headers: Readonly<Record<string, string>>;
	readonly body: Uint8Array | undefined;
}

function readString(data: Uint8Array, offset: number): { value: Uint8Array; next: number } {
	const colon = data.indexOf(COLON, offset);
	const digits = Buffer.from(data.subarray(offset, colon)).toString("latin1");
	if (colon === -1 || !/^(0|[1-9][0-9]{0,9})$/.test(digits))
		throw new V4RequestError("bad string length");
	const length = Number(digits);
	const end = colon + 1 + length;
	if (end > data.byteLength) throw new V4RequestError("string runs past the end");
	return { value: data.subarray(colon + 1, end), next: end };
}

export function parseV4Request(plaintext: Uint8Array): V4Request {
	if (plaintext[0] !== LIST_START) throw new V4RequestError("not a list");
	const meta = readString(plaintext, 1);
	let body: Uint8Array | undefined;
	let offset = meta.next;
	if (plaintext[offset] !== LIST_END) {
		const bodyString = readString(plaintext, offset);
		body = bodyString.value;
		offset = bodyString.next;
	}
	if (plaintext[offset] !== LIST_END || offset + 1 !== plaintext.byteLength) {
		throw new V4RequestError("list must hold one or two strings");
	}
	let json: unknown;
	try {
		json = parseJsonBody(Buffer.from(meta.value).toString("utf8"));
	} catch (error) {
		if (!(error instanceof JsonBodyError)) throw error;
		throw new V4RequestError(`meta: ${error.message}`);
	}
	const parsed = requestMeta.safeParse(json);
	if (!parsed.success)
		throw new V4RequestError("meta needs a method and an endpoint starting with /");
	return {
		method: parsed.data.method,
		endpoint: parsed.data.endpoint,
		headers: parsed.data.headers ?? {},
		body,
	};
}

export function encodeV4Reply(
	code: number,
	headers: Readonly<Record<string, string>>,
	body: Uint8Array,
): Uint8Array {
	const meta = Buffer.from(JSON.stringify({ code, headers }), "utf8");
	return Buffer.concat([
		Buffer.from(`l${meta.length}:`, "latin1"),
		meta,
		Buffer.from(`${body.byteLength}:`, "latin1"),
		body,
		Buffer.from("e", "latin1"),
	]);
}
