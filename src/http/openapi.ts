/**
 * Pieces every route's OpenAPI description shares: the error body, and the marker for routes whose
 * schemas document a wire protocol that the route's own code checks (Session clients expect upstream's
 * error shapes, which Fastify's validation would replace with Tollgate's error body).
 */
import { z } from "zod";

export const errorBodySchema = z
	.object({
		error: z.string().meta({ description: "A stable code from docs/errors.md." }),
		error_description: z.string(),
		request_id: z.string(),
	})
	.meta({ description: "Tollgate's error body (docs/errors.md)." });

/** `{ 400: error body, 401: error body, … }` for a route's `response` schema. */
export function errorResponses(...statuses: number[]): Record<number, typeof errorBodySchema> {
	return Object.fromEntries(statuses.map((status) => [status, errorBodySchema]));
}

/** Route options for a documented protocol route: Fastify does not validate, the handler does. */
export const validatedByHandler = {
	validatorCompiler: () => (value: unknown) => ({ value }),
} as const;

/** A response of one content type, for routes that answer bytes, text or a protocol's own JSON. */
export function contentResponse(description: string, contentType: string, schema: z.ZodType) {
	return { description, content: { [contentType]: { schema } } };
}

/** Raw bytes, in a request or a response. */
export const binarySchema = z.string().meta({ format: "binary" });
