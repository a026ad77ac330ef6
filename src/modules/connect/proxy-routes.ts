/**
 * The pass-through `<prefix>/proxy/<hub>/api/v4/…`: a configured allow-list of methods and path prefixes,
 * called on the hub as the session's user, bodies streamed both ways. Only a few request headers go up
 * (never the browser's cookies or credentials) and only the hub's content and paging headers come back,
 * its Link and Location URLs rewritten to the pass-through; a redirect anywhere else is refused (502).
 */
import { Readable } from "node:stream";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { AppError } from "#errors";
import { binarySchema, contentResponse, validatedByHandler } from "../../http/openapi.ts";
import { type ConnectService, detailBody } from "./connect-service.ts";
import type { Hub } from "./hubs.ts";
import { isAllowedByRules, type ProxyRule, proxyTarget } from "./proxy-path.ts";
import type { UpstreamMethod } from "./upstream-client.ts";

const FORWARDED_REQUEST_HEADERS = [
	"accept",
	"content-type",
	"content-length",
	"if-match",
	"if-none-match",
	"if-modified-since",
	"if-unmodified-since",
	"range",
] as const;
const PASSED_RESPONSE_HEADERS = [
	"content-type",
	"content-length",
	"content-disposition",
	"content-range",
	"accept-ranges",
	"etag",
	"last-modified",
	"retry-after",
	"x-total",
	"x-total-pages",
	"x-page",
	"x-per-page",
	"x-next-page",
	"x-prev-page",
] as const;
const METHODS: readonly UpstreamMethod[] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];
const SAFE_METHODS = new Set(["GET", "HEAD"]);

function isUpstreamMethod(method: string): method is UpstreamMethod {
	return (METHODS as readonly string[]).includes(method);
}

function firstValue(value: string | string[] | undefined): string | undefined {
	return Array.isArray(value) ? value.join(", ") : value;
}

const hubParams = z.object({ hub: z.string() });
/** Answers up to this size are read whole and sent in one write; larger ones are streamed. */
const BUFFERED_ANSWER_BYTES = 64 * 1024;

export interface ProxyRoutesOptions {
	readonly service: ConnectService;
	readonly rules: readonly ProxyRule[];
	/** Tollgate's public base URL, for the rewritten Link and Location headers. */
	readonly publicBase: string;
}

export const proxyRoutes: FastifyPluginAsyncZod<ProxyRoutesOptions> = async (app, options) => {
	const { service, rules } = options;
	app.setErrorHandler(service.answerError);
	app.addHook("onRequest", service.applyCors);
	// Bodies go to the hub as they come, whatever their type.
	app.removeAllContentTypeParsers();
	app.addContentTypeParser("*", (_request, payload, done) => done(null, payload));

	/**
	 * A hub URL below its /api/v4 as the pass-through's own URL; null for any other place. (A URL that
	 * spells the hub's API prefix is rewritten as text; whatever it holds after the prefix, the
	 * pass-through's own path checks refuse when it is followed.)
	 */
	const throughProxy = (hub: Hub, target: string): string | null => {
		const hubApi = `${hub.apiOrigin}${hub.apiBasePath}/api/v4/`;
		if (target.startsWith(hubApi))
			return `${options.publicBase}${service.prefix}/proxy/${hub.name}/api/v4/${target.slice(hubApi.length)}`;
		if (!URL.canParse(target, hub.apiOrigin)) return null;
		const url = new URL(target, `${hub.apiOrigin}${hub.apiBasePath}/`);
		const below = `${hub.apiBasePath}/api/v4/`;
		if (url.origin !== hub.apiOrigin || !url.pathname.startsWith(below)) return null;
		const path = url.pathname.slice(hub.apiBasePath.length);
		return `${options.publicBase}${service.prefix}/proxy/${hub.name}${path}${url.search}`;
	};

	const rewriteLinks = (hub: Hub, header: string): string =>
		header
			.split(",")
			.map((link) => {
				const match = /^\s*<([^>]*)>(.*)$/.exec(link);
				const rewritten = match === null ? null : throughProxy(hub, match[1] ?? "");
				return match === null || rewritten === null ? null : `<${rewritten}>${match[2]}`;
			})
			.filter((link) => link !== null)
			.join(", ");

	const passOn = async (request: FastifyRequest, reply: FastifyReply) => {
		const { method } = request;
		if (!isUpstreamMethod(method)) throw new AppError("method_not_allowed");
		const hub = service.hub(hubParams.parse(request.params).hub);
		if (hub.kind !== "gitlab")
			throw new AppError("invalid_request", {
				description: "This hub has no API to pass on to.",
			});
		const target = proxyTarget(request.raw.url ?? "", `${service.prefix}/proxy/${hub.name}`);
		if (target.kind === "refused")
			throw new AppError("invalid_request", { description: `Refused: ${target.reason}.` });
		if (!isAllowedByRules(rules, method, target.path))
			throw new AppError("forbidden", {
				description: `${method} ${target.path} is not passed on to the DataHUB here.`,
			});
		if (!SAFE_METHODS.has(method)) await service.refuseCrossSite(request);
		const { session } = await service.requireSession(request);
		const headers: Record<string, string> = {};
		for (const name of FORWARDED_REQUEST_HEADERS) {
			const value = firstValue(request.headers[name]);
			if (value !== undefined) headers[name] = value;
		}
		const body: unknown = request.body;
		const aborted = new AbortController();
		reply.raw.on("close", () => {
			if (!reply.raw.writableFinished) aborted.abort();
		});
		const answer = await service.call(session, {
			method,
			path: target.path,
			query: target.query,
			headers,
			body: body instanceof Readable ? body : null,
			signal: aborted.signal,
		});
		if (answer.status >= 300 && answer.status < 400 && answer.headers.location !== undefined) {
			const location = throughProxy(hub, firstValue(answer.headers.location) ?? "");
			if (location === null) {
				await answer.body.dump();
				throw new AppError("upstream_error", {
					description: "The DataHUB redirected to another place; that is not followed.",
				});
			}
			reply.header("location", location);
		}
		for (const name of PASSED_RESPONSE_HEADERS) {
			const value = firstValue(answer.headers[name]);
			if (value !== undefined) reply.header(name, value);
		}
		const link = firstValue(answer.headers.link);
		if (link !== undefined) reply.header("link", rewriteLinks(hub, link));
		reply.code(answer.status).header("cache-control", "private, no-store");
		if (method === "HEAD") {
			await answer.body.dump();
			return reply.send();
		}
		const length = Number(firstValue(answer.headers["content-length"]) ?? Number.NaN);
		return reply.send(
			length <= BUFFERED_ANSWER_BYTES ? Buffer.from(await answer.body.arrayBuffer()) : answer.body,
		);
	};

	const schema = {
		tags: ["connect"],
		params: z.object({ hub: z.string(), "*": z.string() }),
		response: {
			400: detailBody,
			401: detailBody,
			403: detailBody,
			502: detailBody,
			504: detailBody,
			default: contentResponse(
				"The hub's answer as it came: its status, body and paging headers. Tollgate's own refusals are `{detail}`: 400 a refused path or unknown hub, 401 not logged in, 403 not allowed, 502 a redirect elsewhere, 504 the hub did not answer.",
				"application/json",
				z.unknown(),
			),
		},
	};
	const summary =
		"Call the hub's REST API as the logged-in user (connect.proxy_allow lists what passes); the hub's status, body and paging headers come back.";
	app.route({
		method: ["GET", "HEAD", "DELETE"],
		url: `${service.prefix}/proxy/:hub/*`,
		...validatedByHandler,
		schema: { ...schema, summary },
		handler: passOn,
	});
	app.route({
		method: ["POST", "PUT", "PATCH"],
		url: `${service.prefix}/proxy/:hub/*`,
		...validatedByHandler,
		schema: {
			...schema,
			summary: `${summary} The body is streamed to the hub.`,
			body: binarySchema,
		},
		handler: passOn,
	});
};
