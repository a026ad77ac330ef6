/**
 * /openapi.json describes every route the app serves, each with its request and its responses, errors
 * included: it is what the fuzzer drives and what integrators read.
 * @see issue 11: it listed 12 paths and none of the files module's routes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildFullApp, type FullApp } from "../support/full-app.ts";

interface Operation {
	readonly responses?: Record<string, unknown>;
	readonly tags?: readonly string[];
}

/** Fastify's `/file/:id` is OpenAPI's `/file/{id}`, and its wildcard `/*` is `/{*}`. */
const openApiPath = (url: string) =>
	url.replace(/:([A-Za-z0-9_]+)/g, "{$1}").replace(/\/\*$/, "/{*}");

describe("/openapi.json", () => {
	let full: FullApp;
	let paths: Record<string, Record<string, Operation>>;

	beforeAll(async () => {
		full = await buildFullApp();
		const response = await full.testApp.app.inject({ method: "GET", url: "/openapi.json" });
		expect(response.statusCode).toBe(200);
		paths = response.json().paths;
	});
	afterAll(async () => {
		await full.close();
	});

	const served = () =>
		full.testApp.app.routeCatalogue.filter(
			(route) => route.method !== "HEAD" && !route.isHidden && !route.url.startsWith("/docs"),
		);

	it("lists every route the app registered, by method", () => {
		const missing = served()
			.filter((route) => paths[openApiPath(route.url)]?.[route.method.toLowerCase()] === undefined)
			.map((route) => `${route.method} ${route.url}`);
		expect(missing).toEqual([]);
		expect(served().length).toBeGreaterThan(30);
		for (const path of ["/file", "/file/{id}", "/files", "/session_version", "/oxen/v4/lsrpc"])
			expect(Object.keys(paths)).toContain(path);
	});

	it("gives every route its responses, and every route that can refuse its error responses", () => {
		for (const route of served()) {
			const operation = paths[openApiPath(route.url)]?.[route.method.toLowerCase()];
			const statuses = Object.keys(operation?.responses ?? {});
			expect(statuses.length, `${route.method} ${route.url}`).toBeGreaterThan(0);
			if (operation?.tags?.includes("operations") !== true)
				expect(
					statuses.some((status) => Number(status) >= 400),
					`${route.method} ${route.url} documents no error response`,
				).toBe(true);
		}
	});

	it("leaves out only Swagger UI's own assets", () => {
		const hidden = full.testApp.app.routeCatalogue.filter((route) => route.isHidden);
		expect(hidden.every((route) => route.url.startsWith("/docs"))).toBe(true);
	});

	it("serves the API explorer at /docs, its page and its script files", async () => {
		const page = await full.testApp.app.inject({ method: "GET", url: "/docs/" });
		expect(page.statusCode).toBe(200);
		expect(page.headers["content-type"]).toMatch(/^text\/html/);
		const script =
			/src="\.\/(swagger-ui-bundle\.js)"/.exec(page.body)?.[1] ?? "swagger-ui-bundle.js";
		const bundle = await full.testApp.app.inject({ method: "GET", url: `/docs/static/${script}` });
		expect(bundle.statusCode).toBe(200);
		expect(bundle.body.length).toBeGreaterThan(100_000);
	});
});
