/**
 * The Session File Server's routes, byte-compatible with what clients read (specs/session-file-server.md §3):
 * JSON as exactly `application/json`, errors as `{"status_code": N}` with HTTP N, times as float epoch seconds.
 */

import { Readable } from "node:stream";
import type { FastifyPluginAsync, FastifyReply } from "fastify";
import { BlobTooLargeError } from "../../storage/blob-store.ts";
import { isFileId } from "./file-id.ts";
import type { FileRecord } from "./file-records.ts";
import { EmptyUploadError, type FileService } from "./file-service.ts";

export interface FilesHttpSettings {
	readonly maxFileSizeBytes: number;
	readonly maxTtlSeconds: number;
}

function sendJson(reply: FastifyReply, status: number, body: unknown): FastifyReply {
	// Exactly `application/json`: desktop's v4 decoder compares the whole content type, and Fastify adds a
	// charset to JSON sent as a string, not to a Buffer.
	return reply
		.code(status)
		.header("content-type", "application/json")
		.send(Buffer.from(JSON.stringify(body), "utf8"));
}

function sendStatus(reply: FastifyReply, status: number): FastifyReply {
	return sendJson(reply, status, { status_code: status });
}

const seconds = (ms: number) => ms / 1_000;

function infoOf(record: FileRecord) {
	return {
		size: record.sizeBytes,
		uploaded: seconds(record.uploadedAtMs),
		expires: seconds(record.expiresAtMs),
	};
}

/** `X-FS-TTL`: absent → default; an integer in [0, max] → it; anything else → invalid. */
function readTtl(
	header: string | string[] | undefined,
	maxTtlSeconds: number,
): number | undefined | "invalid" {
	if (header === undefined) return undefined;
	if (Array.isArray(header) || !/^\d+$/.test(header.trim())) return "invalid";
	const ttl = Number(header.trim());
	return ttl <= maxTtlSeconds ? ttl : "invalid";
}

export const filesRoutes: FastifyPluginAsync<{
	service: FileService;
	settings: FilesHttpSettings;
}> = async (app, { service, settings }) => {
	// Uploads are streamed to the blob store, whatever content type clients send (desktop sends none).
	app.removeAllContentTypeParsers();
	app.addContentTypeParser("*", (_request, payload, done) => {
		done(null, payload);
	});

	app.post("/file", { schema: { hide: true } }, async (request, reply) => {
		const ttl = readTtl(request.headers["x-fs-ttl"], settings.maxTtlSeconds);
		const declaredBytes = Number(request.headers["content-length"] ?? Number.NaN);
		// Refuse before reading: the rest of the body is never read, so the connection cannot be reused.
		if (declaredBytes > settings.maxFileSizeBytes)
			return sendStatus(reply.header("connection", "close"), 413);
		if (ttl === "invalid") return sendStatus(reply, 400);
		try {
			const record = await service.upload(
				request.body instanceof Readable ? request.body : Readable.from([]),
				ttl,
			);
			return sendJson(reply, 200, { id: record.id, expires: seconds(record.expiresAtMs) });
		} catch (error) {
			if (error instanceof BlobTooLargeError)
				return sendStatus(reply.header("connection", "close"), 413);
			if (error instanceof EmptyUploadError) return sendStatus(reply, 413);
			throw error;
		}
	});

	app.get<{ Params: { id: string } }>(
		"/file/:id",
		{ schema: { hide: true } },
		async (request, reply) => {
			const opened = isFileId(request.params.id) ? await service.open(request.params.id) : null;
			if (opened === null) return sendStatus(reply, 404);
			return reply
				.code(200)
				.type("application/octet-stream")
				.header("content-length", opened.blob.sizeBytes)
				.header("expires", new Date(opened.record.expiresAtMs).toUTCString())
				.send(opened.blob.stream);
		},
	);

	app.get<{ Params: { id: string } }>(
		"/file/:id/info",
		{ schema: { hide: true } },
		async (request, reply) => {
			const record = isFileId(request.params.id) ? await service.info(request.params.id) : null;
			return record === null ? sendStatus(reply, 404) : sendJson(reply, 200, infoOf(record));
		},
	);

	app.post<{ Params: { id: string } }>(
		"/file/:id/extend",
		{ schema: { hide: true } },
		async (request, reply) => {
			if (request.body instanceof Readable) request.body.resume();
			const ttl = readTtl(request.headers["x-fs-ttl"], settings.maxTtlSeconds);
			if (ttl === "invalid") return sendStatus(reply, 400);
			const record = isFileId(request.params.id)
				? await service.extend(request.params.id, ttl)
				: null;
			return record === null ? sendStatus(reply, 404) : sendJson(reply, 200, infoOf(record));
		},
	);
};
