/**
 * Session onion requests, v4 (`POST /oxen/v4/lsrpc`; specs/session-file-server.md §7): decrypt with the
 * service's X25519 key(s), dispatch the inner request to this same app in-process, encrypt the reply back.
 * Shared by the files and entitlements modules. Only an undecryptable envelope is an outer error (400);
 * every inner result, errors included, travels encrypted in an HTTP 200.
 */
import type { FastifyInstance } from "fastify";
import { AppError } from "#errors";
import type { X25519KeyPair } from "#lib/ed25519";
import { openOnionRequest } from "./ciphers.ts";
import { MAX_ONION_BODY_BYTES, OnionEnvelopeError, parseOuterRequest } from "./envelope.ts";
import { encodeV4Reply, parseV4Request, V4RequestError } from "./v4-codec.ts";

export { onionKey, openOnionRequest, seal } from "./ciphers.ts";
export { decodeEphemeralKey, type OnionCipher, parseOuterRequest } from "./envelope.ts";
export { encodeV4Reply, parseV4Request } from "./v4-codec.ts";

export interface OnionTransportOptions {
	/** Tried in order: the service key's X25519 form first, then any legacy X25519-only key. */
	readonly serverKeys: readonly X25519KeyPair[];
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

/**
 * Registers `POST /oxen/v4/lsrpc`.
 * @throws nothing at registration; the route answers `invalid_request` (400) for an envelope it cannot open.
 */
export async function registerOnionTransport(
	app: FastifyInstance,
	options: OnionTransportOptions,
): Promise<void> {
	await app.register((onion, _options, done) => {
		onion.removeAllContentTypeParsers();
		onion.addContentTypeParser(
			"*",
			{ parseAs: "buffer", bodyLimit: MAX_ONION_BODY_BYTES },
			(_request, body, done) => {
				done(null, body);
			},
		);

		onion.post(
			"/oxen/v4/lsrpc",
			{
				bodyLimit: MAX_ONION_BODY_BYTES,
				schema: {
					tags: ["onion"],
					summary: "Session onion request, v4: an encrypted request to any route here.",
				},
			},
			async (request, reply) => {
				const body = request.body;
				if (!(body instanceof Uint8Array))
					throw new AppError("invalid_request", { description: "empty onion request" });
				let session: ReturnType<typeof openOnionRequest>;
				try {
					const outer = parseOuterRequest(body);
					session = openOnionRequest(
						options.serverKeys,
						outer.cipher,
						outer.ephemeralKey,
						outer.ciphertext,
					);
				} catch (error) {
					if (error instanceof OnionEnvelopeError)
						throw new AppError("invalid_request", { description: error.message });
					throw error;
				}
				if (session === null)
					throw new AppError("invalid_request", {
						description: "onion request could not be decrypted",
					});

				let plaintext: Uint8Array;
				try {
					const inner = parseV4Request(session.plaintext);
					// An onion request inside an onion request would only be a way to loop.
					if (inner.endpoint.startsWith("/oxen/") || inner.endpoint.startsWith("/loki/")) {
						throw new V4RequestError("nested onion request");
					}
					const headers: Record<string, string> = { "content-type": "application/octet-stream" };
					for (const [name, value] of Object.entries(inner.headers))
						headers[name.toLowerCase()] = value;
					delete headers["content-length"];
					const response = await app.inject({
						method: inner.method,
						url: inner.endpoint,
						headers,
						...(inner.body === undefined ? {} : { payload: Buffer.from(inner.body) }),
					});
					plaintext = encodeV4Reply(
						response.statusCode,
						replyHeaders(response.headers),
						response.rawPayload,
					);
				} catch (error) {
					if (!(error instanceof V4RequestError)) throw error;
					request.log.info({ reason: error.message }, "invalid v4 onion request");
					plaintext = encodeV4Reply(400, TEXT_PLAIN, INVALID_V4);
				}
				return reply
					.code(200)
					.type("application/octet-stream")
					.send(Buffer.from(session.seal(plaintext)));
			},
		);
		done();
	});
}
