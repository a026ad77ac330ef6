/**
 * Once close() starts, every response still being written says `Connection: close`. Without it a
 * keep-alive client that had a request in flight keeps its socket open and close() (and so SIGTERM
 * shutdown) waits until the client's idle timeout.
 */
import type { FastifyInstance } from "fastify";

export function registerGracefulClose(app: FastifyInstance): void {
	let isClosing = false;
	app.addHook("preClose", async () => {
		isClosing = true;
	});
	app.addHook("onSend", async (_request, reply) => {
		if (isClosing) reply.header("connection", "close");
	});
}
