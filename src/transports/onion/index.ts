/**
 * Session onion requests (specs/session-file-server.md §7): decrypt with the service's X25519 key(s),
 * dispatch the inner request to this same app in-process, encrypt the reply back. v4 at `POST /oxen/v4/lsrpc`;
 * the deprecated v3 at `/oxen/v3/lsrpc` and `/loki/v3/lsrpc`. Shared by the files and entitlements modules.
 * Only an envelope that cannot be opened is an outer error (400); every inner result travels encrypted in a 200.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import { AppError } from "#errors";
import type { X25519KeyPair } from "#lib/ed25519";
import {
	binarySchema,
	contentResponse,
	errorResponses,
	validatedByHandler,
} from "../../http/openapi.ts";
import { type OnionSession, openOnionRequest } from "./ciphers.ts";
import { MAX_ONION_BODY_BYTES, OnionEnvelopeError, parseOuterRequest } from "./envelope.ts";
import { parseV3Request, V3RequestError } from "./v3-codec.ts";
import { encodeV4Reply, parseV4Request, V4RequestError } from "./v4-codec.ts";

export { onionKey, openOnionRequest, seal } from "./ciphers.ts";
export { decodeEphemeralKey, type OnionCipher, parseOuterRequest } from "./envelope.ts";
export { encodeV4Reply, parseV4Request } from "./v4-codec.ts";

export interface OnionTransportOptions {
	/** Tried in order: the service key's X25519 form first, then any legacy X25519-only key. */
	readonly serverKeys: readonly X25519KeyPair[];
}

/**
 * Set on every request the transport dispatches in-process, replacing any value the client sent: the reply
 * must carry the bytes themselves, since no front proxy sits between this transport and the route.
 */
const TRANSPORT_HEADER = "x-tollgate-transport";

/** Whether the onion transport dispatched this request (a direct client gains nothing by faking it). */
export function isOnionDispatched(request: FastifyRequest): boolean {
	return request.headers[TRANSPORT_HEADER] === "onion";
}

declare module "fastify" {
	interface FastifyContextConfig {
		/** Onion requests may reach this route (a Session client route); any other answers them 404. */
		readonly onion?: boolean;
	}
}

/** Route config of a route Session clients may reach through onion requests. */
export const onionReachable = { onion: true } as const;

/**
 * Onion requests reach only the routes that say so (`config: onionReachable`), as upstream Session servers
 * expose only their client routes that way: /metrics, /docs, the sessions API and dev routes answer 404.
 * Call it before any route is registered.
 */
export function guardOnionReachability(app: FastifyInstance): void {
	// A callback hook, not an async one: it runs on every request, and almost always does nothing.
	app.addHook("onRequest", (request, _reply, done) => {
		if (isOnionDispatched(request) && request.routeOptions.config.onion !== true) {
			done(
				new AppError("not_found", {
					description: `No route for ${request.method} ${request.url.split("?")[0]}`,
				}),
			);
			return;
		}
		done();
	});
}

const INVALID_V4 = Buffer.from("Invalid v4 onion request", "utf8");
const TEXT_PLAIN = { "content-type": "text/plain; charset=utf-8" };

// Connection-level and browser-only headers mean nothing inside an encrypted reply; the original sends
// the content headers only (the length is implied by the bencoded body).
const HEADERS_LEFT_OUT = new Set([
	"content-length",
	"connection",
	"keep-alive",
	"transfer-encoding",
	"date",
	"x-request-id",
	"x-content-type-options",
	"referrer-policy",
	"x-frame-options",
]);

function replyHeaders(headers: Record<string, unknown>): Record<string, string> {
	const kept: Record<string, string> = {};
	for (const [name, value] of Object.entries(headers)) {
		const lower = name.toLowerCase();
		if (HEADERS_LEFT_OUT.has(lower) || value === undefined) continue;
		kept[lower] = Array.isArray(value) ? value.join(", ") : String(value);
	}
	return kept;
}

/** An onion request inside an onion request would only be a way to loop. */
function isOnionEndpoint(endpoint: string): boolean {
	return endpoint.startsWith("/oxen/") || endpoint.startsWith("/loki/");
}

function openEnvelope(request: FastifyRequest, serverKeys: readonly X25519KeyPair[]): OnionSession {
	const body = request.body;
	if (!(body instanceof Uint8Array))
		throw new AppError("invalid_request", { description: "empty onion request" });
	let session: OnionSession | null;
	try {
		const outer = parseOuterRequest(body);
		session = openOnionRequest(serverKeys, outer.cipher, outer.ephemeralKey, outer.ciphertext);
	} catch (error) {
		if (error instanceof OnionEnvelopeError)
			throw new AppError("invalid_request", { description: error.message });
		throw error;
	}
	if (session === null)
		throw new AppError("invalid_request", { description: "onion request could not be decrypted" });
	return session;
}

/**
 * Registers the onion endpoints.
 * @throws nothing at registration; the routes answer `invalid_request` (400) for an envelope they cannot open.
 */
export async function registerOnionTransport(
	app: FastifyInstance,
	options: OnionTransportOptions,
): Promise<void> {
	async function answerV4(plaintext: Uint8Array, request: FastifyRequest): Promise<Uint8Array> {
		try {
			const inner = parseV4Request(plaintext);
			if (isOnionEndpoint(inner.endpoint)) throw new V4RequestError("nested onion request");
			const headers: Record<string, string> = { "content-type": "application/octet-stream" };
			for (const [name, value] of Object.entries(inner.headers))
				headers[name.toLowerCase()] = value;
			delete headers["content-length"];
			headers[TRANSPORT_HEADER] = "onion";
			const response = await app.inject({
				method: inner.method,
				url: inner.endpoint,
				headers,
				...(inner.body === undefined ? {} : { payload: Buffer.from(inner.body) }),
			});
			return encodeV4Reply(
				response.statusCode,
				replyHeaders(response.headers),
				response.rawPayload,
			);
		} catch (error) {
			if (!(error instanceof V4RequestError)) throw error;
			request.log.info({ reason: error.message }, "invalid v4 onion request");
			return encodeV4Reply(400, TEXT_PLAIN, INVALID_V4);
		}
	}

	async function answerV3(plaintext: Uint8Array, request: FastifyRequest): Promise<Uint8Array> {
		try {
			const inner = parseV3Request(plaintext);
			if (isOnionEndpoint(inner.endpoint)) throw new V3RequestError("nested onion request");
			const response = await app.inject({
				method: inner.method,
				url: inner.endpoint,
				headers: { ...inner.headers, [TRANSPORT_HEADER]: "onion" },
				...(inner.body === undefined ? {} : { payload: inner.body }),
			});
			return response.statusCode === 200
				? response.rawPayload
				: Buffer.from(JSON.stringify({ status_code: response.statusCode }));
		} catch (error) {
			if (!(error instanceof V3RequestError)) throw error;
			request.log.info({ reason: error.message }, "invalid v3 onion request");
			return Buffer.from(JSON.stringify({ status_code: 400 }));
		}
	}

	await app.register((onion, _options, done) => {
		onion.removeAllContentTypeParsers();
		onion.addContentTypeParser(
			"*",
			{ parseAs: "buffer", bodyLimit: MAX_ONION_BODY_BYTES },
			(_request, body, parsed) => {
				parsed(null, body);
			},
		);
		const route = {
			...validatedByHandler,
			bodyLimit: MAX_ONION_BODY_BYTES,
			schema: {
				tags: ["onion"],
				consumes: ["application/octet-stream"],
				body: binarySchema.meta({
					description: "u32_le(length) ‖ ciphertext ‖ JSON {ephemeral_key, enc_type}",
				}),
			},
		};
		const refused = errorResponses(400, 413);

		onion.post(
			"/oxen/v4/lsrpc",
			{
				...route,
				schema: {
					...route.schema,
					summary:
						"Session onion request, v4: an encrypted request to a Session route, its reply encrypted back.",
					response: {
						200: contentResponse(
							"The encrypted reply: bencoded status and headers, then the body.",
							"application/octet-stream",
							binarySchema,
						),
						...refused,
					},
				},
			},
			async (request, reply) => {
				const session = openEnvelope(request, options.serverKeys);
				const sealed = session.seal(await answerV4(session.plaintext, request));
				return reply.code(200).type("application/octet-stream").send(Buffer.from(sealed));
			},
		);

		for (const path of ["/oxen/v3/lsrpc", "/loki/v3/lsrpc"]) {
			onion.post(
				path,
				{
					...route,
					schema: {
						...route.schema,
						summary: "Session onion request, v3 (deprecated): base64 reply.",
						response: {
							200: contentResponse("The encrypted reply, base64.", "text/plain", z.base64()),
							...refused,
						},
					},
				},
				async (request, reply) => {
					const session = openEnvelope(request, options.serverKeys);
					const sealed = session.seal(await answerV3(session.plaintext, request));
					return reply.code(200).type("text/plain").send(Buffer.from(sealed).toString("base64"));
				},
			);
		}
		done();
	});
}
