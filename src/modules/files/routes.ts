/**
 * The Session File Server's routes, byte-compatible with what clients read (specs/session-file-server.md §3):
 * JSON as exactly `application/json`, errors as `{"status_code": N}` with HTTP N, times as float epoch seconds.
 * Beyond the original: single-range downloads (206/416), and 400 rather than 500 for bad legacy base64.
 */
import { Readable } from "node:stream";
import type { FastifyPluginAsync, FastifyReply } from "fastify";
import { z } from "zod";
import { parseJsonBody } from "#lib/json-body";
import { binarySchema, contentResponse, validatedByHandler } from "../../http/openapi.ts";
import { BlobTooLargeError } from "../../storage/index.ts";
import { isOnionDispatched, onionReachable } from "../../transports/onion/index.ts";
import { FILE_ID_LENGTH, isFileId } from "./file-id.ts";
import type { FileMetrics } from "./file-metrics.ts";
import type { FileRecord } from "./file-records.ts";
import { answerFileServerError, sendJson, sendStatus } from "./file-server-replies.ts";
import { EmptyUploadError, type FileService, NoFreeIdError } from "./file-service.ts";
import { parseRange, readTtl } from "./request-headers.ts";

export interface FilesHttpSettings {
	readonly maxFileSizeBytes: number;
	readonly maxTtlSeconds: number;
}

/** The legacy /files route takes base64 in JSON; the original caps the base64 text at 8,000,000 characters. */
const MAX_LEGACY_BASE64_CHARS = 8_000_000;
const BASE64_PATTERN = /^[A-Za-z0-9+/]*={0,2}$/;

// What the routes below answer, for /openapi.json; each handler checks its own input, as the original does.
const tags = ["files"];
const statusBody = z
	.object({ status_code: z.int() })
	.meta({ description: "The original's error body: the HTTP status, repeated." });
const fileError = (description: string) =>
	contentResponse(description, "application/json", statusBody);
const idParams = z.object({
	id: z.string().meta({ description: "A 44-character content id, or an old numeric id." }),
});
const ttlHeaders = z.object({
	"x-fs-ttl": z
		.string()
		.regex(/^\d+$/)
		.optional()
		.meta({ description: "Seconds to keep the file, up to files.max_ttl_seconds." }),
});
const fileInfo = z.object({
	size: z.int().meta({ description: "Bytes." }),
	uploaded: z.number().meta({ description: "Unix time in seconds (float)." }),
	expires: z.number().meta({ description: "Unix time in seconds (float)." }),
});
const fileBytes = (description: string) =>
	contentResponse(description, "application/octet-stream", binarySchema);
const json = (description: string, schema: z.ZodType) =>
	contentResponse(description, "application/json", schema);

const seconds = (ms: number) => ms / 1_000;

function infoOf(record: FileRecord) {
	return {
		size: record.sizeBytes,
		uploaded: seconds(record.uploadedAtMs),
		expires: seconds(record.expiresAtMs),
	};
}

/** Reads a whole (small) body; null once it passes `maxBytes`. */
async function readAll(body: unknown, maxBytes: number): Promise<Buffer | null> {
	if (!(body instanceof Readable)) return Buffer.alloc(0);
	const chunks: Buffer[] = [];
	let size = 0;
	for await (const chunk of body) {
		const piece = Buffer.from(chunk);
		size += piece.length;
		if (size > maxBytes) return null;
		chunks.push(piece);
	}
	return Buffer.concat(chunks);
}

export const filesRoutes: FastifyPluginAsync<{
	service: FileService;
	metrics: FileMetrics;
	settings: FilesHttpSettings;
	/** The X-Accel-Redirect URI of a blob, when nginx sends the bytes (edge/files.conf); else undefined. */
	accelRedirectUriOf: ((blobKey: string) => string) | undefined;
}> = async (app, { service, metrics, settings, accelRedirectUriOf }) => {
	app.setErrorHandler(answerFileServerError);
	// Uploads are streamed to the blob store, whatever content type clients send (desktop sends none).
	app.removeAllContentTypeParsers();
	app.addContentTypeParser("*", (_request, payload, done) => {
		done(null, payload);
	});

	async function storeUpload(
		reply: FastifyReply,
		body: Readable,
		ttl: number | undefined,
		legacy: boolean,
	) {
		try {
			const record = await service.upload(body, ttl);
			metrics.uploads.inc();
			return legacy
				? // The legacy route answers a numeric id as a JSON number, as old clients parse it.
					sendJson(reply, 200, {
						result:
							record.id.length < FILE_ID_LENGTH && /^\d+$/.test(record.id)
								? Number(record.id)
								: record.id,
						status_code: 200,
					})
				: sendJson(reply, 200, { id: record.id, expires: seconds(record.expiresAtMs) });
		} catch (error) {
			// The rest of an oversized body is never read, so the connection cannot be reused.
			if (error instanceof BlobTooLargeError)
				return sendStatus(reply.header("connection", "close"), 413);
			if (error instanceof EmptyUploadError) return sendStatus(reply, 413);
			if (error instanceof NoFreeIdError) return sendStatus(reply, 507);
			throw error;
		}
	}

	app.post(
		"/file",
		{
			...validatedByHandler,
			config: onionReachable,
			schema: {
				tags,
				summary: "Upload a file (the client has encrypted it); identical bytes get the same id.",
				consumes: ["application/octet-stream"],
				headers: ttlHeaders,
				body: binarySchema,
				response: {
					200: json(
						"Stored.",
						z.object({
							id: z.string(),
							expires: z.number().meta({ description: "Unix seconds." }),
						}),
					),
					400: fileError("X-FS-TTL is not a whole number of seconds up to the maximum."),
					413: fileError("Empty, or larger than files.max_file_size_bytes."),
					503: fileError("The store is unreachable; retry later."),
					507: fileError("No free numeric id (backwards-compatible ids only)."),
				},
			},
		},
		async (request, reply) => {
			const ttl = readTtl(request.headers["x-fs-ttl"], settings.maxTtlSeconds);
			const declaredBytes = Number(request.headers["content-length"] ?? Number.NaN);
			// Refused before reading a byte when the declared length is already too much.
			if (declaredBytes > settings.maxFileSizeBytes)
				return sendStatus(reply.header("connection", "close"), 413);
			if (ttl === "invalid") return sendStatus(reply, 400);
			return storeUpload(
				reply,
				request.body instanceof Readable ? request.body : Readable.from([]),
				ttl,
				false,
			);
		},
	);

	app.get<{ Params: { id: string } }>(
		"/file/:id",
		{
			...validatedByHandler,
			config: onionReachable,
			schema: {
				tags,
				summary: "Download a file's bytes, whole or one Range (or an X-Accel-Redirect to nginx).",
				params: idParams,
				headers: z.object({ range: z.string().optional().meta({ description: "bytes=a-b" }) }),
				response: {
					200: fileBytes("The bytes, with Expires (an HTTP date)."),
					206: fileBytes("The requested range."),
					404: fileError("No such file, or it has expired."),
					416: fileError("The range lies outside the file."),
					503: fileError("The store is unreachable; retry later."),
				},
			},
		},
		async (request, reply) => {
			const record = isFileId(request.params.id) ? await service.info(request.params.id) : null;
			if (record === null) return sendStatus(reply, 404);
			const expires = new Date(record.expiresAtMs).toUTCString();
			// Inside an onion request no proxy would follow the redirect: the bytes go in the encrypted reply.
			if (accelRedirectUriOf !== undefined && !isOnionDispatched(request)) {
				metrics.downloads.inc();
				// nginx keeps Content-Type and Expires through the redirect and answers Range itself, adding its
				// own Accept-Ranges: ours would reach the client as a second one.
				return reply
					.code(200)
					.type("application/octet-stream")
					.header("expires", expires)
					.header("x-accel-redirect", accelRedirectUriOf(record.blobKey))
					.send();
			}
			const range = parseRange(request.headers.range, record.sizeBytes);
			if (range === "unsatisfiable") {
				return sendStatus(reply.header("content-range", `bytes */${record.sizeBytes}`), 416);
			}
			const blob = await service.openBlob(record, range ?? undefined);
			if (blob === null) return sendStatus(reply, 404);
			metrics.downloads.inc();
			reply
				.type("application/octet-stream")
				.header("accept-ranges", "bytes")
				.header("expires", expires);
			if (range === null)
				return reply.code(200).header("content-length", record.sizeBytes).send(blob.stream);
			return reply
				.code(206)
				.header("content-range", `bytes ${range.start}-${range.end}/${record.sizeBytes}`)
				.header("content-length", range.end - range.start + 1)
				.send(blob.stream);
		},
	);

	app.get<{ Params: { id: string } }>(
		"/file/:id/info",
		{
			...validatedByHandler,
			config: onionReachable,
			schema: {
				tags,
				summary: "A file's size, upload time and expiry.",
				params: idParams,
				response: {
					200: json("The file's details.", fileInfo),
					404: fileError("No such file, or it has expired."),
					503: fileError("The store is unreachable; retry later."),
				},
			},
		},
		async (request, reply) => {
			const record = isFileId(request.params.id) ? await service.info(request.params.id) : null;
			return record === null ? sendStatus(reply, 404) : sendJson(reply, 200, infoOf(record));
		},
	);

	app.post<{ Params: { id: string } }>(
		"/file/:id/extend",
		{
			...validatedByHandler,
			config: onionReachable,
			schema: {
				tags,
				summary: "Keep a file longer (never shorter); content ids only.",
				params: idParams,
				headers: ttlHeaders,
				response: {
					200: json("The file's new details.", fileInfo),
					400: fileError("X-FS-TTL is not a whole number of seconds up to the maximum."),
					404: fileError("No such file, it has expired, or the id is numeric."),
					503: fileError("The store is unreachable; retry later."),
				},
			},
		},
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

	app.post(
		"/files",
		{
			...validatedByHandler,
			config: onionReachable,
			schema: {
				tags,
				summary: "Upload, legacy form: the bytes base64-encoded in JSON.",
				body: z.object({ file: z.base64().meta({ description: "The bytes, base64." }) }),
				headers: ttlHeaders,
				response: {
					200: json(
						"Stored; a numeric id is a JSON number.",
						z.object({ result: z.union([z.string(), z.number()]), status_code: z.literal(200) }),
					),
					400: fileError("Not JSON, no `file` string, bad base64, or a bad X-FS-TTL."),
					413: fileError("Empty, or larger than allowed."),
					503: fileError("The store is unreachable; retry later."),
				},
			},
		},
		async (request, reply) => {
			const text = await readAll(request.body, MAX_LEGACY_BASE64_CHARS + 1_024);
			if (text === null) return sendStatus(reply.header("connection", "close"), 413);
			let file: unknown;
			try {
				const parsed: unknown = parseJsonBody(text.toString("utf8"));
				file =
					typeof parsed === "object" && parsed !== null && "file" in parsed
						? parsed.file
						: undefined;
			} catch {
				return sendStatus(reply, 400);
			}
			if (typeof file !== "string") return sendStatus(reply, 400);
			if (file.length === 0 || file.length > MAX_LEGACY_BASE64_CHARS) return sendStatus(reply, 413);
			if (!BASE64_PATTERN.test(file)) return sendStatus(reply, 400);
			const ttl = readTtl(request.headers["x-fs-ttl"], settings.maxTtlSeconds);
			if (ttl === "invalid") return sendStatus(reply, 400);
			return storeUpload(reply, Readable.from([Buffer.from(file, "base64")]), ttl, true);
		},
	);

	app.get<{ Params: { id: string } }>(
		"/files/:id",
		{
			...validatedByHandler,
			config: onionReachable,
			schema: {
				tags,
				summary: "Download, legacy form: the bytes base64-encoded in JSON.",
				params: idParams,
				response: {
					200: json("The bytes.", z.object({ status_code: z.literal(200), result: z.base64() })),
					404: fileError("No such file, or it has expired."),
					503: fileError("The store is unreachable; retry later."),
				},
			},
		},
		async (request, reply) => {
			const record = isFileId(request.params.id) ? await service.info(request.params.id) : null;
			const blob = record === null ? null : await service.openBlob(record);
			if (blob === null) return sendStatus(reply, 404);
			const bytes = await readAll(blob.stream, Number.POSITIVE_INFINITY);
			metrics.downloads.inc();
			return sendJson(reply, 200, {
				status_code: 200,
				result: (bytes ?? Buffer.alloc(0)).toString("base64"),
			});
		},
	);
};
