/** The original's `str` answers: FastAPI sends a route's returned string as a JSON string. */
import type { FastifyReply } from "fastify";

export function sendJsonString(reply: FastifyReply, status: number, text: string): FastifyReply {
	return reply.code(status).type("application/json").send(JSON.stringify(text));
}
