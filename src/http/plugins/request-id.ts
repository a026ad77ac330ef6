/**
 * Request ids: an id set by the edge (nginx `$request_id`) is kept so logs join up across hops; anything
 * not shaped like an id is replaced, so a client cannot inject text into our logs.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { REQUEST_ID_HEADER } from "./response-headers.ts";

const INCOMING_ID_PATTERN = /^[A-Za-z0-9._:-]{8,64}$/;

export function generateRequestId(request: IncomingMessage): string {
	const incoming = request.headers[REQUEST_ID_HEADER];
	return typeof incoming === "string" && INCOMING_ID_PATTERN.test(incoming)
		? incoming
		: randomUUID();
}
