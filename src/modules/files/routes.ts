/**
 * The Session File Server's Fastify routes: their schemas (for /openapi.json) and their handlers, which
 * render what file-answers.ts decides. HTTP clients' uploads and downloads take the raw node:http fast path
 * with the same answers (module.ts); these serve onion requests, tests and the rest.
 */
import { Readable } from "node:stream";
import type { FastifyPluginAsync } from "fastify";
import { z } from "zod";
import { parseJsonBody } from "#lib/json-body";
import { binarySchema, contentResponse, validatedByHandler } from "../../http/openapi.ts";
import { isOnionDispatched, onionReachable } from "../../transports/onion/index.ts";
import {
	answerDownload,
	answerExtend,
	answerInfo,
	answerLegacyDownload,
	answerUpload,
	type FilesHttpSettings,
	readAll,
	statusAnswer,
} from "./file-answers.ts";
import type { FileMetrics } from "./file-metrics.ts";
import { answerFileServerError, sendAnswer } from "./file-server-replies.ts";
import type { FileService } from "./file-service.ts";

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

const bodyOf = (request: { body: unknown }): AsyncIterable<Uint8Array> =>
	request.body instanceof Readable ? request.body : Readable.from([]);

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
			return sendAnswer(
				reply,
				await answerUpload(service, metrics, settings, bodyOf(request), request.headers),
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
			// Inside an onion request no proxy would follow a redirect: the bytes go in the encrypted reply.
			const accel = isOnionDispatched(request) ? undefined : accelRedirectUriOf;
			return sendAnswer(
				reply,
				await answerDownload(service, metrics, request.params.id, request.headers.range, accel),
			);
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
			return sendAnswer(reply, await answerInfo(service, request.params.id));
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
			return sendAnswer(
				reply,
				await answerExtend(service, settings, request.params.id, request.headers["x-fs-ttl"]),
			);
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
			const text = await readAll(bodyOf(request), MAX_LEGACY_BASE64_CHARS + 1_024);
			if (text === null) return sendAnswer(reply, statusAnswer(413, { connection: "close" }));
			let file: unknown;
			try {
				const parsed: unknown = parseJsonBody(text.toString("utf8"));
				file =
					typeof parsed === "object" && parsed !== null && "file" in parsed
						? parsed.file
						: undefined;
			} catch {
				return sendAnswer(reply, statusAnswer(400));
			}
			if (typeof file !== "string") return sendAnswer(reply, statusAnswer(400));
			if (file.length === 0 || file.length > MAX_LEGACY_BASE64_CHARS)
				return sendAnswer(reply, statusAnswer(413));
			if (!BASE64_PATTERN.test(file)) return sendAnswer(reply, statusAnswer(400));
			// The declared length is the JSON's, not the file's: only X-FS-TTL is passed on.
			const headers = { "x-fs-ttl": request.headers["x-fs-ttl"] };
			const bytes = Readable.from([Buffer.from(file, "base64")]);
			return sendAnswer(
				reply,
				await answerUpload(service, metrics, settings, bytes, headers, true),
			);
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
			return sendAnswer(reply, await answerLegacyDownload(service, metrics, request.params.id));
		},
	);
};
