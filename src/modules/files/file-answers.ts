/**
 * What each file server route answers, decided once for both ways a request arrives: Fastify (onion
 * requests, OpenAPI, tests through inject) and the raw node:http fast path (uploads and downloads from
 * HTTP clients). Byte-compatible with the original (specs/session-file-server.md §3): JSON as exactly
 * `application/json`, errors as `{"status_code": N}` with HTTP N, times as float epoch seconds. Beyond the
 * original: single-range downloads (206/416), and a file kept inline is sent from its record.
 */
import type { Readable } from "node:stream";
import { BlobTooLargeError } from "../../storage/index.ts";
import { FILE_ID_LENGTH, isFileId } from "./file-id.ts";
import type { FileMetrics } from "./file-metrics.ts";
import type { FileRecord } from "./file-records.ts";
import { EmptyUploadError, type FileService, NoFreeIdError } from "./file-service.ts";
import { parseRange, readTtl } from "./request-headers.ts";

export interface FileAnswer {
	readonly status: number;
	/** Content-Type (when there is a body) and the route's own headers; never Content-Length. */
	readonly headers: Readonly<Record<string, string>>;
	/** Bytes, a stream of `lengthBytes`, or nothing. */
	readonly body: Buffer | { readonly stream: Readable; readonly lengthBytes: number } | null;
}

export interface FilesHttpSettings {
	readonly maxFileSizeBytes: number;
	readonly maxTtlSeconds: number;
}

const JSON_TYPE = { "content-type": "application/json" };
/** The rest of a refused body is never read, so the connection cannot carry another request. */
const CLOSE = { connection: "close" };

export function jsonAnswer(
	status: number,
	body: unknown,
	headers: Readonly<Record<string, string>> = {},
): FileAnswer {
	return {
		status,
		headers: { ...JSON_TYPE, ...headers },
		body: Buffer.from(JSON.stringify(body), "utf8"),
	};
}

/** The original's error answer: `{"status_code": N}` with HTTP N. */
export function statusAnswer(
	status: number,
	headers: Readonly<Record<string, string>> = {},
): FileAnswer {
	return jsonAnswer(status, { status_code: status }, headers);
}

const seconds = (ms: number) => ms / 1_000;

function infoOf(record: FileRecord) {
	return {
		size: record.sizeBytes,
		uploaded: seconds(record.uploadedAtMs),
		expires: seconds(record.expiresAtMs),
	};
}

type Headers = Readonly<Record<string, string | string[] | undefined>>;

/**
 * POST /file (and the legacy POST /files, `isLegacy`: its id as a JSON number when numeric). A declared
 * length over the limit is refused before a byte is read.
 */
export async function answerUpload(
	service: FileService,
	metrics: FileMetrics,
	settings: FilesHttpSettings,
	body: AsyncIterable<Uint8Array>,
	headers: Headers,
	isLegacy = false,
): Promise<FileAnswer> {
	const ttl = readTtl(headers["x-fs-ttl"], settings.maxTtlSeconds);
	if (Number(headers["content-length"] ?? Number.NaN) > settings.maxFileSizeBytes)
		return statusAnswer(413, CLOSE);
	if (ttl === "invalid") return statusAnswer(400);
	let record: FileRecord;
	try {
		record = await service.upload(body, ttl);
	} catch (error) {
		if (error instanceof BlobTooLargeError) return statusAnswer(413, CLOSE);
		if (error instanceof EmptyUploadError) return statusAnswer(413);
		if (error instanceof NoFreeIdError) return statusAnswer(507);
		throw error;
	}
	metrics.uploads.inc();
	if (!isLegacy) return jsonAnswer(200, { id: record.id, expires: seconds(record.expiresAtMs) });
	const isNumeric = record.id.length < FILE_ID_LENGTH && /^\d+$/.test(record.id);
	return jsonAnswer(200, { result: isNumeric ? Number(record.id) : record.id, status_code: 200 });
}

/**
 * GET /file/<id>: the bytes with Expires, whole or one range; or, when nginx sends blob files
 * (`accelRedirectUriOf`) and the request came through it, an empty 200 with X-Accel-Redirect.
 */
export async function answerDownload(
	service: FileService,
	metrics: FileMetrics,
	id: string,
	rangeHeader: string | undefined,
	accelRedirectUriOf: ((blobKey: string) => string) | undefined,
): Promise<FileAnswer> {
	const stored = isFileId(id) ? await service.infoWithBytes(id) : null;
	if (stored === null) return statusAnswer(404);
	const { blobKey, inlineBytes, sizeBytes } = stored;
	const expires = new Date(stored.expiresAtMs).toUTCString();
	if (blobKey !== null && accelRedirectUriOf !== undefined) {
		metrics.downloads.inc();
		// nginx keeps Content-Type and Expires through the redirect and answers Range itself, adding its
		// own Accept-Ranges: ours would reach the client as a second one.
		return {
			status: 200,
			headers: {
				"content-type": "application/octet-stream",
				expires,
				"x-accel-redirect": accelRedirectUriOf(blobKey),
			},
			body: null,
		};
	}
	const range = parseRange(rangeHeader, sizeBytes);
	if (range === "unsatisfiable")
		return statusAnswer(416, { "content-range": `bytes */${sizeBytes}` });
	let body: FileAnswer["body"];
	if (inlineBytes !== null) {
		const bytes = Buffer.from(inlineBytes.buffer, inlineBytes.byteOffset, inlineBytes.byteLength);
		body = range === null ? bytes : bytes.subarray(range.start, range.end + 1);
	} else {
		const blob = blobKey === null ? null : await service.openBlob(blobKey, range ?? undefined);
		if (blob === null) return statusAnswer(404);
		body = {
			stream: blob.stream,
			lengthBytes: range === null ? sizeBytes : range.end - range.start + 1,
		};
	}
	metrics.downloads.inc();
	const headers = { "content-type": "application/octet-stream", "accept-ranges": "bytes", expires };
	if (range === null) return { status: 200, headers, body };
	return {
		status: 206,
		headers: { ...headers, "content-range": `bytes ${range.start}-${range.end}/${sizeBytes}` },
		body,
	};
}

/** GET /file/<id>/info. */
export async function answerInfo(service: FileService, id: string): Promise<FileAnswer> {
	const record = isFileId(id) ? await service.info(id) : null;
	return record === null ? statusAnswer(404) : jsonAnswer(200, infoOf(record));
}

/** POST /file/<id>/extend. */
export async function answerExtend(
	service: FileService,
	settings: FilesHttpSettings,
	id: string,
	ttlHeader: string | string[] | undefined,
): Promise<FileAnswer> {
	const ttl = readTtl(ttlHeader, settings.maxTtlSeconds);
	if (ttl === "invalid") return statusAnswer(400);
	const record = isFileId(id) ? await service.extend(id, ttl) : null;
	return record === null ? statusAnswer(404) : jsonAnswer(200, infoOf(record));
}

/** Reads a whole (small) body; null once it passes `maxBytes`. */
export async function readAll(
	body: AsyncIterable<Uint8Array>,
	maxBytes: number,
): Promise<Buffer | null> {
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

/** GET /files/<id> (legacy): the whole file, base64 in JSON. */
export async function answerLegacyDownload(
	service: FileService,
	metrics: FileMetrics,
	id: string,
): Promise<FileAnswer> {
	const stored = isFileId(id) ? await service.infoWithBytes(id) : null;
	let bytes: Buffer | null = null;
	if (stored !== null && stored.inlineBytes !== null) bytes = Buffer.from(stored.inlineBytes);
	else if (stored !== null && stored.blobKey !== null) {
		const blob = await service.openBlob(stored.blobKey);
		bytes = blob === null ? null : await readAll(blob.stream, Number.POSITIVE_INFINITY);
	}
	if (bytes === null) return statusAnswer(404);
	metrics.downloads.inc();
	return jsonAnswer(200, { status_code: 200, result: bytes.toString("base64") });
}
