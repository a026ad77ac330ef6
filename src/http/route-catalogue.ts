/**
 * Every route the app registers, as Fastify saw it: what /openapi.json must describe (a test holds the
 * two together), and what the CLI or a module may list.
 */
import type { FastifyInstance } from "fastify";

export interface CataloguedRoute {
	readonly method: string;
	/** Fastify's pattern, e.g. `/file/:id`. */
	readonly url: string;
	/** Left out of /openapi.json on purpose (Swagger UI's own assets). */
	readonly isHidden: boolean;
}

declare module "fastify" {
	interface FastifyInstance {
		readonly routeCatalogue: readonly CataloguedRoute[];
	}
}

/** Starts the catalogue; call it before any route is registered. */
export function registerRouteCatalogue(app: FastifyInstance): void {
	const routes: CataloguedRoute[] = [];
	app.decorate("routeCatalogue", routes);
	app.addHook("onRoute", (route) => {
		const methods = Array.isArray(route.method) ? route.method : [route.method];
		for (const method of methods)
			routes.push({ method, url: route.url, isHidden: route.schema?.hide === true });
	});
}
