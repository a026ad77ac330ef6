/**
 * Prometheus metrics at /metrics: request count and latency per route (the route pattern, never the raw
 * URL, so ids and keys do not become label values), plus process metrics. Modules add gauges to `registry`.
 */
import type { FastifyInstance } from "fastify";
import { Counter, collectDefaultMetrics, Histogram, type Registry } from "prom-client";

export function registerMetrics(app: FastifyInstance, registry: Registry): void {
	collectDefaultMetrics({ register: registry });
	const labelNames = ["method", "route", "status_code"] as const;
	const requestsTotal = new Counter({
		name: "tollgate_http_requests_total",
		help: "HTTP requests answered, by route and status.",
		labelNames,
		registers: [registry],
	});
	const requestDuration = new Histogram({
		name: "tollgate_http_request_duration_seconds",
		help: "Time from request received to response sent, by route and status.",
		labelNames,
		buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
		registers: [registry],
	});

	app.addHook("onResponse", async (request, reply) => {
		const labels = {
			method: request.method,
			route: request.routeOptions.url ?? "unmatched",
			status_code: String(reply.statusCode),
		};
		requestsTotal.inc(labels);
		requestDuration.observe(labels, reply.elapsedTime / 1_000);
	});

	app.get("/metrics", { schema: { hide: true } }, async (_request, reply) => {
		reply.type(registry.contentType);
		return registry.metrics();
	});
}
