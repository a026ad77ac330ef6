/** Placeholder while this part of the arcs module is being written. */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { ArcsContext } from "./route-context.ts";

export const searchRoutes: FastifyPluginAsyncZod<ArcsContext> = async () => {};

export function searchIndexJob(
	_context: ArcsContext,
): import("../../jobs/job-runner.ts").JobDefinition {
	return { name: "arcs.search_index", intervalMs: 3_600_000, run: async () => {} };
}
