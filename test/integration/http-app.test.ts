/** What a client and an operator see of the HTTP layer every module stands on. */
import { once } from "node:events";
import { createServer } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { AppError } from "../../src/errors/index.ts";
import { RawRoutes } from "../../src/http/raw-routes.ts";
import { buildTestApp, type TestApp } from "../support/build-test-app.ts";

let testApp: TestApp | undefined;
afterEach(async () => {
	await testApp?.close();
	testApp = undefined;
});

async function start(overrides: Record<string, unknown> = {}): Promise<TestApp> {
	testApp = await buildTestApp(overrides);
	return testApp;
}

describe("health", () => {
	it("/healthz answers 200 while the process runs", async () => {
		const { app } = await start();
		const response = await app.inject({ method: "GET", url: "/healthz" });
		expect(response.statusCode).toBe(200);
		expect(response.json()).toEqual({ status: "ok" });
	});

	it("/readyz answers 200 when the database and the key-value store answer", async () => {
		const { app } = await start();
		const response = await app.inject({ method: "GET", url: "/readyz" });
		expect(response.statusCode).toBe(200);
		expect(response.json()).toEqual({ status: "ok", checks: { database: "ok", kv: "ok" } });
	});

	it("/readyz answers 503 and names the store that is down", async () => {
		const { app, storage } = await start();
		await storage.kv.close();
		const response = await app.inject({ method: "GET", url: "/readyz" });
		expect(response.statusCode).toBe(503);
		expect(response.json()).toEqual({
			status: "unavailable",
			checks: { database: "ok", kv: "unavailable" },
		});
	});
});

describe("errors", () => {
	async function appWithRoutes(): Promise<TestApp> {
		const started = await start({ http: { body_limit_bytes: 1024 } });
		started.app.withTypeProvider<ZodTypeProvider>().post(
			"/test/items",
			{
				schema: {
					body: z.object({ name: z.string().min(1), quantity: z.number().int().positive() }),
				},
			},
			async (request) => ({ created: request.body.name }),
		);
		started.app.get("/test/conflict", async () => {
			throw new AppError("conflict", { description: "That item already exists." });
		});
		started.app.get("/test/crash", async () => {
			throw new Error("database password is hunter2");
		});
		return started;
	}

	it("an unknown route is 404 with the error body and the request id", async () => {
		const { app } = await start();
		const response = await app.inject({ method: "GET", url: "/no/such/route" });
		expect(response.statusCode).toBe(404);
		const body = response.json();
		expect(body).toMatchObject({ error: "not_found" });
		expect(body.request_id).toBe(response.headers["x-request-id"]);
	});

	it("a body that fails validation is 400 and the description names the field", async () => {
		const { app } = await appWithRoutes();
		const response = await app.inject({
			method: "POST",
			url: "/test/items",
			payload: { name: "bolt", quantity: -2 },
		});
		expect(response.statusCode).toBe(400);
		expect(response.json().error).toBe("invalid_request");
		expect(response.json().error_description).toMatch(/^body\.quantity: /);
	});

	it("malformed JSON is 400 invalid_request", async () => {
		const { app } = await appWithRoutes();
		const response = await app.inject({
			method: "POST",
			url: "/test/items",
			headers: { "content-type": "application/json" },
			payload: '{"name": ',
		});
		expect(response.statusCode).toBe(400);
		expect(response.json().error).toBe("invalid_request");
	});

	it("a body over the limit is 413 payload_too_large", async () => {
		const { app } = await appWithRoutes();
		const response = await app.inject({
			method: "POST",
			url: "/test/items",
			payload: { name: "x".repeat(2048), quantity: 1 },
		});
		expect(response.statusCode).toBe(413);
		expect(response.json().error).toBe("payload_too_large");
	});

	it("an unsupported content type is 415", async () => {
		const { app } = await appWithRoutes();
		const response = await app.inject({
			method: "POST",
			url: "/test/items",
			headers: { "content-type": "application/x-unknown" },
			payload: "x",
		});
		expect(response.statusCode).toBe(415);
		expect(response.json().error).toBe("unsupported_media_type");
	});

	it("a protocol error keeps its code and description", async () => {
		const { app } = await appWithRoutes();
		const response = await app.inject({ method: "GET", url: "/test/conflict" });
		expect(response.statusCode).toBe(409);
		expect(response.json()).toMatchObject({
			error: "conflict",
			error_description: "That item already exists.",
		});
	});

	it("a crash is 500 with the generic text only: no message, no stack", async () => {
		const { app, logs } = await appWithRoutes();
		const response = await app.inject({ method: "GET", url: "/test/crash" });
		expect(response.statusCode).toBe(500);
		expect(response.json()).toEqual({
			error: "internal_error",
			error_description: "An internal error occurred.",
			request_id: response.headers["x-request-id"],
		});
		expect(response.body).not.toContain("hunter2");
		const failure = logs().find((line) => line.msg === "request failed");
		expect(failure?.request_id).toBe(response.headers["x-request-id"]);
	});
});

describe("request ids", () => {
	it("keeps a well-formed id from the edge and replaces one that could inject text into logs", async () => {
		const { app } = await start();
		const kept = await app.inject({
			method: "GET",
			url: "/healthz",
			headers: { "x-request-id": "edge-1234abcd" },
		});
		expect(kept.headers["x-request-id"]).toBe("edge-1234abcd");
		const replaced = await app.inject({
			method: "GET",
			url: "/healthz",
			headers: { "x-request-id": 'x" injected\nline' },
		});
		expect(replaced.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
	});
});

describe("logs", () => {
	it("redact the client address unless unsafe logging is on", async () => {
		const { app, logs } = await start();
		await app.inject({ method: "GET", url: "/healthz", remoteAddress: "203.0.113.7" });
		expect(JSON.stringify(logs())).not.toContain("203.0.113.7");
		await testApp?.close();

		const unsafe = await start({ logging: { unsafe: true } });
		await unsafe.app.inject({ method: "GET", url: "/healthz", remoteAddress: "203.0.113.7" });
		expect(JSON.stringify(unsafe.logs())).toContain("203.0.113.7");
	});

	/** @see issue 11: the URL as sent reached the log, path parameters and query included. */
	it("name the route pattern, not the URL's ids, e-mail addresses or query, unless unsafe logging is on", async () => {
		const url = "/users/alice%40example.org/sessions?api_key=k-7f3a9";
		const { app, logs } = await start();
		await app.inject({ method: "GET", url });
		const written = JSON.stringify(logs());
		expect(written).not.toContain("alice");
		expect(written).not.toContain("k-7f3a9");
		const access = logs().filter((line) => line.msg === "request");
		expect(access).toEqual([
			expect.objectContaining({
				method: "GET",
				route: "/users/:user_id/sessions",
				status_code: 401,
			}),
		]);
		await app.inject({ method: "GET", url: "/nowhere/alice%40example.org" });
		expect(logs().at(-1)).toMatchObject({ route: "(no route)", status_code: 404 });
		expect(JSON.stringify(logs())).not.toContain("alice");
		await testApp?.close();

		const unsafe = await start({ logging: { unsafe: true } });
		await unsafe.app.inject({ method: "GET", url });
		expect(unsafe.logs().find((line) => line.msg === "request")).toMatchObject({ url });
	});

	it("never write credentials, even with unsafe logging", async () => {
		const { app, logs } = await start({ logging: { unsafe: true, level: "trace" } });
		app.get("/test/echo", async (request) => {
			request.log.info({ token: "tok-secret-123", email: "zoe@example.org" }, "handled");
			return {};
		});
		await app.inject({
			method: "GET",
			url: "/test/echo",
			headers: { authorization: "Bearer abc.def" },
		});
		const written = JSON.stringify(logs());
		expect(written).not.toContain("tok-secret-123");
		expect(written).not.toContain("abc.def");
		expect(written).toContain("zoe@example.org");
	});
});

describe("operations endpoints", () => {
	it("/metrics exposes request counts and latency per route pattern", async () => {
		const { app } = await start();
		await app.inject({ method: "GET", url: "/healthz" });
		await app.inject({ method: "GET", url: "/nothing-here/abc123" });
		const metrics = await app.inject({ method: "GET", url: "/metrics" });
		expect(metrics.statusCode).toBe(200);
		expect(metrics.headers["content-type"]).toMatch(/^text\/plain/);
		expect(metrics.body).toContain(
			'tollgate_http_requests_total{method="GET",route="/healthz",status_code="200"} 1',
		);
		expect(metrics.body).toContain('route="unmatched",status_code="404"');
		expect(metrics.body).not.toContain("abc123");
		expect(metrics.body).toMatch(
			/tollgate_http_request_duration_seconds_bucket\{.*route="\/healthz"/,
		);
	});

	it("/openapi.json describes the routes and /docs serves Swagger UI", async () => {
		const { app } = await start();
		const spec = await app.inject({ method: "GET", url: "/openapi.json" });
		expect(spec.json().openapi).toBe("3.1.0");
		expect(Object.keys(spec.json().paths)).toEqual(
			expect.arrayContaining(["/healthz", "/readyz", "/sessions", "/edge/check"]),
		);
		const docs = await app.inject({ method: "GET", url: "/docs/" });
		expect(docs.statusCode).toBe(200);
		expect(docs.body).toContain("swagger-ui");
	});

	it("sends the security headers on every response", async () => {
		const { app } = await start();
		const response = await app.inject({ method: "GET", url: "/healthz" });
		expect(response.headers["x-content-type-options"]).toBe("nosniff");
		expect(response.headers["referrer-policy"]).toBe("no-referrer");
	});
});

describe("graceful shutdown", () => {
	it("finishes an in-flight request and refuses new connections once closing", async () => {
		const { app } = await start();
		app.get("/test/slow", async () => {
			await sleep(300);
			return { finished: true };
		});
		const address = await app.listen({ host: "127.0.0.1", port: 0 });
		const inFlight = fetch(`${address}/test/slow`);
		await sleep(50);
		const closing = app.close();
		const response = await inFlight;
		expect(response.status).toBe(200);
		expect(await response.json()).toEqual({ finished: true });
		await closing;
		await expect(fetch(`${address}/healthz`)).rejects.toThrow();
	});
});

describe("routes answered ahead of Fastify", () => {
	async function serve(routes: RawRoutes): Promise<{ url: string; close(): Promise<void> }> {
		const server = createServer((request, response) => {
			if (!routes.dispatch(request, response)) response.writeHead(404).end();
		});
		server.listen(0, "127.0.0.1");
		await once(server, "listening");
		const { port } = server.address() as AddressInfo;
		return {
			url: `http://127.0.0.1:${port}`,
			close: () => new Promise((resolve) => server.close(() => resolve())),
		};
	}

	it("hand a POST route its whole body, refuse one over the limit with 413, and answer a fault with the error body", async () => {
		const errorLines: string[] = [];
		const logger = pino(
			{ level: "error" },
			{ write: (line: string) => void errorLines.push(line) },
		);
		const routes = new RawRoutes(logger, { bodyLimitBytes: 1024, isUrlLogged: false });
		routes.add("POST", "/echo", async (_request, { body, query }) => ({
			status: 200,
			body: {
				contentType: "text/plain",
				bytes: Buffer.concat([Buffer.from(`${query.get("tag")}:`), body]),
			},
		}));
		routes.add("POST", "/crash", async () => {
			throw new Error("database password is hunter2");
		});
		const served = await serve(routes);
		try {
			const echoed = await fetch(`${served.url}/echo?tag=t`, {
				method: "POST",
				body: "x".repeat(1024),
			});
			expect(echoed.status).toBe(200);
			expect(echoed.headers.get("content-type")).toBe("text/plain");
			expect(echoed.headers.get("x-content-type-options")).toBe("nosniff");
			expect(await echoed.text()).toBe(`t:${"x".repeat(1024)}`);

			const chunked = new ReadableStream({
				start(controller) {
					controller.enqueue(new Uint8Array(1_000));
					controller.enqueue(new Uint8Array(1_000));
					controller.close();
				},
			});
			const refused = await fetch(`${served.url}/echo`, {
				method: "POST",
				body: chunked,
				duplex: "half",
			} as RequestInit);
			expect(refused.status).toBe(413);
			expect(await refused.json()).toMatchObject({ error: "payload_too_large" });

			const crashed = await fetch(`${served.url}/crash`, { method: "POST", body: "{}" });
			expect(crashed.status).toBe(500);
			const body = await crashed.json();
			expect(body).toEqual({
				error: "internal_error",
				error_description: expect.not.stringContaining("hunter2"),
				request_id: crashed.headers.get("x-request-id"),
			});

			expect((await fetch(`${served.url}/echo`)).status).toBe(404);
			expect(errorLines).toHaveLength(1);
			expect(errorLines[0]).toContain("hunter2");

			// A client that hangs up mid-body is no server fault: nothing more is logged as an error.
			const { port } = new URL(served.url);
			const socket = connect(Number(port), "127.0.0.1");
			await once(socket, "connect");
			socket.write("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 500\r\n\r\nonly part");
			await sleep(50);
			socket.destroy();
			await sleep(100);
			expect(errorLines).toHaveLength(1);
		} finally {
			await served.close();
		}
	});
});
