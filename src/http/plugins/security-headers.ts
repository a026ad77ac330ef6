/** Headers every response carries; pages that need more (CSP for the identity UI) set their own. */
import type { FastifyInstance } from "fastify";

export function registerSecurityHeaders(app: FastifyInstance): void {
	app.addHook("onSend", async (_request, reply) => {
		reply.header("x-content-type-options", "nosniff");
		reply.header("referrer-policy", "no-referrer");
		reply.header("x-frame-options", "DENY");
	});
}
