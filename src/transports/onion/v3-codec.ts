/**
 * The deprecated v3 inner request (§7.4), still sent by older clients: a JSON object
 * `{"endpoint", "method", "headers"?, "body"?}`; the reply is the sub-response's body when it is a 200 and
 * `{"status_code": N}` otherwise, and travels as standard base64 of the encrypted bytes.
 */
import { z } from "zod";
import { JsonBodyError, parseJsonBody } from "#lib/json-body";

export class V3RequestError extends Error {
	constructor(reason: string) {
		super(reason);
		this.name = "V3RequestError";
	}
}

const requestShape = z.object({
	endpoint: z.string().min(1),
	method: z.enum(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]),
	headers: z.record(z.string(), z.string()).optional(),
	body: z.string().nullable().optional(),
});

export interface V3Request {
	/** One of the methods the module routes answer (what Fastify's inject takes). */
	readonly method: z.output<typeof requestShape>["method"];
	readonly endpoint: string;
	readonly headers: Readonly<Record<string, string>>;
	readonly body: string | undefined;
}

export function parseV3Request(plaintext: Uint8Array): V3Request {
	if (plaintext[0] !== 0x7b) throw new V3RequestError("not a JSON object");
	let json: unknown;
	try {
		json = parseJsonBody(Buffer.from(plaintext).toString("utf8"));
	} catch (error) {
		if (!(error instanceof JsonBodyError)) throw error;
		throw new V3RequestError(error.message);
	}
	const parsed = requestShape.safeParse(json);
	if (!parsed.success) throw new V3RequestError("needs an endpoint and a method");
	const { method, headers = {}, body } = parsed.data;
	const hasBody = method === "POST" || method === "PUT";
	// Android ≤ 1.11.12 sent the string "null" as the body of a GET.
	if (!hasBody && body !== undefined && body !== null && body !== "" && body !== "null") {
		throw new V3RequestError(`${method} takes no body`);
	}
	// The length comes from the body itself; a client's stale content-length must not cut it short.
	const lowered = Object.fromEntries(
		Object.entries(headers)
			.map(([name, value]) => [name.toLowerCase(), value])
			.filter(([name]) => name !== "content-length"),
	);
	return {
		method,
		endpoint: parsed.data.endpoint.startsWith("/")
			? parsed.data.endpoint
			: `/${parsed.data.endpoint}`,
		headers: { ...lowered, "content-type": "application/json" },
		body: hasBody ? (body ?? "") : undefined,
	};
}
