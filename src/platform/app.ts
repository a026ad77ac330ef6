/**
 * buildApp(config, deps): the Fastify instance with the service's plugins and every enabled module
 * registered, in MODULES order. It never listens (fastify Testing guide): startService does, and tests use
 * inject() or listen on port 0.
 */
import { createServer } from "node:http";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import {
	jsonSchemaTransform,
	serializerCompiler,
	validatorCompiler,
	type ZodTypeProvider,
} from "fastify-type-provider-zod";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { z } from "zod";
import { AppError, registerErrorHandling } from "#errors";
import type { Clock } from "#lib/clock";
import { MAX_JSON_DEPTH, nestsDeeperThan } from "#lib/json-body";
import { healthRoutes } from "../http/health-routes.ts";
import { accessLoggerOf } from "../http/logger.ts";
import { contentResponse } from "../http/openapi.ts";
import { AccessLogController } from "../http/plugins/access-log.ts";
import { registerMetrics } from "../http/plugins/metrics.ts";
import { generateRequestId } from "../http/plugins/request-id.ts";
import { registerResponseHeaders } from "../http/plugins/response-headers.ts";
import { RawRoutes } from "../http/raw-routes.ts";
import { registerRouteCatalogue } from "../http/route-catalogue.ts";
import type { JobDefinition } from "../jobs/job-runner.ts";
import type { ServiceKeys } from "../keys/service-keys.ts";
import type { ModuleServices } from "../modules/contract.ts";
import type { Storage } from "../storage/index.ts";
import { guardOnionReachability, registerOnionTransport } from "../transports/onion/index.ts";
import { MODULES, type SectionedConfig } from "./modules.ts";

export interface AppDependencies {
	readonly storage: Storage;
	readonly keys: ServiceKeys;
	readonly clock: Clock;
	readonly logger: Logger;
	/** Metrics registry; a fresh one per app so several apps can live in one process (tests). */
	readonly registry: Registry;
	/** Where modules hand their background jobs: the leased job runner. */
	readonly registerJob: (job: JobDefinition) => void;
}

export type App = FastifyInstance;

/** Fastify's own JSON parser (prototype-poisoning checks included), behind a nesting limit. */
function limitJsonDepth(app: FastifyInstance): void {
	const parseJson = app.getDefaultJsonParser("error", "error");
	app.removeContentTypeParser("application/json");
	app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
		const text = typeof body === "string" ? body : body.toString("utf8");
		if (nestsDeeperThan(text, MAX_JSON_DEPTH)) {
			done(
				new AppError("invalid_request", {
					description: `body: JSON nests deeper than ${MAX_JSON_DEPTH} levels`,
				}),
				undefined,
			);
			return;
		}
		void parseJson(request, text, done);
	});
}

export async function buildApp(config: SectionedConfig, deps: AppDependencies): Promise<App> {
	// Typed as Fastify's logger so the instance fits plugins written against the default FastifyInstance.
	const loggerInstance: FastifyBaseLogger = deps.logger;
	const rawRoutes = new RawRoutes(deps.logger, {
		bodyLimitBytes: config.http.body_limit_bytes,
		isUrlLogged: config.logging.unsafe,
	});
	const app = Fastify({
		loggerInstance,
		serverFactory: (fastifyHandler) => {
			const requestTimeoutMs = config.http.request_timeout_ms;
			const server = createServer(
				// Node enforces the timeouts below only when it sweeps its connections: every 30 s by default.
				requestTimeoutMs > 0
					? { connectionsCheckingInterval: Math.min(requestTimeoutMs, 1_000) }
					: {},
				(request, response) => {
					if (!rawRoutes.dispatch(request, response)) fastifyHandler(request, response);
				},
			);
			// Fastify sets these on the servers it creates itself (its keep-alive default is 72 s).
			server.keepAliveTimeout = 72_000;
			server.requestTimeout = requestTimeoutMs;
			// Node swaps the two when headersTimeout (60 s) is the larger: a shorter request_timeout_ms would then
			// bound only the headers, and a body could trickle in for 60 s.
			if (requestTimeoutMs > 0)
				server.headersTimeout = Math.min(server.headersTimeout, requestTimeoutMs);
			return server;
		},
		genReqId: generateRequestId,
		logController: new AccessLogController({
			isPersonalDataLogged: config.logging.unsafe,
			accessLogger: accessLoggerOf(deps.logger),
		}),
		bodyLimit: config.http.body_limit_bytes,
		requestTimeout: config.http.request_timeout_ms,
		trustProxy: config.http.trust_proxy,
		return503OnClosing: true,
	}).withTypeProvider<ZodTypeProvider>();
	app.setValidatorCompiler(validatorCompiler);
	app.setSerializerCompiler(serializerCompiler);
	limitJsonDepth(app);

	registerRouteCatalogue(app);
	guardOnionReachability(app);
	registerErrorHandling(app);
	registerResponseHeaders(app);
	await app.register(swagger, {
		openapi: {
			openapi: "3.1.0",
			info: {
				title: "Tollgate",
				description: "Self-hosted backend for privacy-first apps.",
				version: "0.1.0",
			},
			components: {
				securitySchemes: {
					appApiKey: {
						type: "http",
						scheme: "bearer",
						description:
							"One of sessions.app_api_keys, or a key from `tollgate sessions keys add`.",
					},
				},
			},
		},
		transform: jsonSchemaTransform,
	});
	await app.register(swaggerUi, { routePrefix: "/docs" });
	// After swagger, which describes only the routes registered once it is loaded.
	rawRoutes.observeWith(registerMetrics(app, deps.registry));
	app.addHook("preClose", (done) => {
		rawRoutes.markClosing();
		done();
	});
	app.get(
		"/openapi.json",
		{
			schema: {
				tags: ["operations"],
				summary: "This API description (OpenAPI 3.1); Swagger UI at /docs.",
				response: {
					200: contentResponse(
						"The OpenAPI document.",
						"application/json",
						z.record(z.string(), z.unknown()),
					),
				},
			},
		},
		async () => app.swagger(),
	);

	await app.register(healthRoutes, {
		probes: { database: () => deps.storage.sql.ping(), kv: () => deps.storage.kv.ping() },
	});

	const { x25519, legacyX25519 } = deps.keys;
	// Read on every request: keys modules add while starting are tried after the service's.
	const onionKeys = legacyX25519 === undefined ? [x25519] : [x25519, legacyX25519];
	await registerOnionTransport(app, { serverKeys: onionKeys });

	const services: Partial<ModuleServices> = {};
	for (const module of MODULES) {
		if (!module.isEnabled(config)) continue;
		for (const needed of module.dependsOn)
			if (!(needed in services))
				throw new Error(`module ${module.name} needs module ${needed}, which is switched off`);
		Object.assign(
			services,
			await module.start(
				{
					config,
					app,
					rawRoutes,
					storage: deps.storage,
					keys: deps.keys,
					clock: deps.clock,
					logger: deps.logger,
					registry: deps.registry,
					registerJob: deps.registerJob,
					acceptOnionKey: (key) => onionKeys.push(key),
					services,
				},
				config,
			),
		);
	}

	return app;
}
