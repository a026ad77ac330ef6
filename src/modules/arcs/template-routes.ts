/** Placeholder while this part of the arcs module is being written. */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { ArcsContext } from "./route-context.ts";

export const templateRoutes: FastifyPluginAsyncZod<ArcsContext> = async () => {};
