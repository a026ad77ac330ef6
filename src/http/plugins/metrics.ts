/**
 * Prometheus metrics at /metrics: request count and latency per route (the route pattern, never the raw
 * URL, so ids and keys do not become label values), plus process metrics. Modules add gauges to `registry`.
 */
import type { FastifyInstance } from "fastify";
import { Counter, collectDefaultMetrics, Histogram, type Registry } from "prom-client";
import { z } from "zod";
import { contentResponse } from "../openapi.ts";
import type { ResponseObserver } from "../raw-routes.ts";

interface RouteSeries {
	readonly requests: { inc(): void };
	readonly duration: { observe(seconds: number): void };
}

/** Registers /metrics and the request metrics; returns the observer for requests Fastify does not see. */
export function registerMetrics(app: FastifyInstance, registry: Registry): ResponseObserver {
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
	// prom-client hashes the label object on every call; the label sets are few, so resolve each once.
	const seriesByKey = new Map<string, RouteSeries>();
	function seriesFor(method: string, route: string, statusCode: string): RouteSeries {
		const key = `${method} ${statusCode} ${route}`;
		let series = seriesByKey.get(key);
		if (series === undefined) {
			series = {
				requests: requestsTotal.labels(method, route, statusCode),
				duration: requestDuration.labels(method, route, statusCode),
			};
			seriesByKey.set(key, series);
		}
		return series;
	}

	app.addHook("onResponse", (request, reply, done) => {
		const series = seriesFor(
			request.method,
			request.routeOptions.url ?? "unmatched",
			String(reply.statusCode),
		);
		series.requests.inc();
		series.duration.observe(reply.elapsedTime / 1_000);
		done();
	});

	app.get(
		"/metrics",
		{
			schema: {
				tags: ["operations"],
				summary: "Prometheus metrics: requests and latency per route pattern, jobs, process.",
				response: {
					200: contentResponse("Prometheus text exposition format.", "text/plain", z.string()),
				},
			},
		},
		async (_request, reply) => {
			reply.type(registry.contentType);
			return registry.metrics();
		},
	);

	return (method, route, statusCode, seconds) => {
		const series = seriesFor(method, route, String(statusCode));
		series.requests.inc();
		series.duration.observe(seconds);
	};
}
