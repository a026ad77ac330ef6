/**
 * /healthz answers while the process runs (liveness); /readyz only while the database and the key-value
 * store answer (readiness: 503 takes the instance out of the load balancer until they come back).
 */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";

export interface ReadinessProbes {
	readonly database: () => Promise<void>;
	readonly kv: () => Promise<void>;
}

const PROBE_TIMEOUT_MS = 2_000;
const checkState = z.enum(["ok", "unavailable"]);

async function probe(check: () => Promise<void>): Promise<"ok" | "unavailable"> {
	let timer: NodeJS.Timeout | undefined;
	const timeout = new Promise<never>((_resolve, reject) => {
		timer = setTimeout(() => reject(new Error("probe timed out")), PROBE_TIMEOUT_MS);
	});
	try {
		await Promise.race([check(), timeout]);
		return "ok";
	} catch {
		return "unavailable";
	} finally {
		clearTimeout(timer);
	}
}

export const healthRoutes: FastifyPluginAsyncZod<{ probes: ReadinessProbes }> = async (
	app,
	{ probes },
) => {
	app.get(
		"/healthz",
		{
			schema: {
				tags: ["operations"],
				summary: "Liveness: the process is up.",
				response: { 200: z.object({ status: z.literal("ok") }) },
			},
		},
		async () => ({ status: "ok" as const }),
	);

	const readiness = z.object({
		status: checkState,
		checks: z.object({ database: checkState, kv: checkState }),
	});
	app.get(
		"/readyz",
		{
			schema: {
				tags: ["operations"],
				summary: "Readiness: the database and the key-value store answer.",
				response: { 200: readiness, 503: readiness },
			},
		},
		async (_request, reply) => {
			const [database, kv] = await Promise.all([probe(probes.database), probe(probes.kv)]);
			const isReady = database === "ok" && kv === "ok";
			return reply.code(isReady ? 200 : 503).send({
				status: isReady ? "ok" : "unavailable",
				checks: { database, kv },
			});
		},
	);
};
