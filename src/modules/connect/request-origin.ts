/**
 * Who may call the connect routes from a browser. CORS (Fetch standard §3.2): the configured origins get
 * credentialed responses and may read `total-pages` and `missing-package`. CSRF: a state-changing route
 * also refuses a request whose Origin is neither Tollgate's nor configured, or that the browser marks as
 * cross-site (Sec-Fetch-Site, Fetch Metadata) — on top of the SameSite=Strict cookie, which a cross-site
 * request does not carry anyway. A request with neither header is not from a browser page and passes.
 */
import type { FastifyReply, FastifyRequest } from "fastify";

const EXPOSED_HEADERS = "total-pages, missing-package";
const PREFLIGHT_MAX_AGE_SECONDS = 600;
const METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE";

function headerOf(request: FastifyRequest, name: string): string | undefined {
	const value = request.headers[name];
	return Array.isArray(value) ? value[0] : value;
}

export class RequestOrigins {
	readonly #allowed: ReadonlySet<string>;
	readonly #ownOrigin: string | null;

	/** `ownOrigin`: Tollgate's public origin; null: the origin a request's Host names is its own. */
	constructor(corsOrigins: readonly string[], ownOrigin: string | null) {
		this.#allowed = new Set(corsOrigins);
		this.#ownOrigin = ownOrigin;
	}

	#isOwn(request: FastifyRequest, origin: string): boolean {
		if (this.#ownOrigin !== null) return origin === this.#ownOrigin;
		return origin === `${request.protocol}://${request.host}`;
	}

	#isAllowed(request: FastifyRequest, origin: string): boolean {
		return this.#allowed.has(origin) || this.#isOwn(request, origin);
	}

	/** Adds the CORS response headers when the request's Origin is a configured one. */
	applyCors(request: FastifyRequest, reply: FastifyReply): void {
		const origin = headerOf(request, "origin");
		reply.header("vary", "Origin");
		if (origin === undefined || !this.#allowed.has(origin)) return;
		reply.header("access-control-allow-origin", origin);
		reply.header("access-control-allow-credentials", "true");
		reply.header("access-control-expose-headers", EXPOSED_HEADERS);
	}

	/** A preflight's answer headers (the request's own headers allowed, as the original allowed all). */
	preflight(request: FastifyRequest, reply: FastifyReply): void {
		this.applyCors(request, reply);
		const origin = headerOf(request, "origin");
		if (origin === undefined || !this.#allowed.has(origin)) return;
		reply.header("access-control-allow-methods", METHODS);
		const requested = headerOf(request, "access-control-request-headers");
		if (requested !== undefined && /^[A-Za-z0-9_, -]*$/.test(requested))
			reply.header("access-control-allow-headers", requested);
		reply.header("access-control-max-age", String(PREFLIGHT_MAX_AGE_SECONDS));
	}

	/** Whether a state-changing request may go on (see the module header). */
	isSameSiteOrAllowed(request: FastifyRequest): boolean {
		const origin = headerOf(request, "origin");
		if (origin !== undefined) return this.#isAllowed(request, origin);
		return headerOf(request, "sec-fetch-site") !== "cross-site";
	}
}
