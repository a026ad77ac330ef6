/**
 * Headers every response carries, set once per request: the request id (so clients can quote it), and
 * the security headers (pages that need more, such as a CSP, set their own). Once close() starts, every
 * response still being written says `Connection: close`: without it a keep-alive client with a request in
 * flight keeps its socket open, and close() (so SIGTERM shutdown) waits for the client's idle timeout.
 */
import type { FastifyInstance } from "fastify";

export const REQUEST_ID_HEADER = "x-request-id";

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
	"x-content-type-options": "nosniff",
	"referrer-policy": "no-referrer",
	"x-frame-options": "DENY",
};

export function registerResponseHeaders(app: FastifyInstance): void {
	app.addHook("onRequest", (request, reply, done) => {
		reply.headers({ ...SECURITY_HEADERS, [REQUEST_ID_HEADER]: request.id });
		done();
	});

	let isClosing = false;
	app.addHook("preClose", (done) => {
		isClosing = true;
		done();
	});
	app.addHook("onSend", (_request, reply, payload, done) => {
		if (isClosing) reply.header("connection", "close");
		done(null, payload);
	});
}
