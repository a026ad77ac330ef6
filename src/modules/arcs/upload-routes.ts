/**
 * `POST /fnf/uploadFile` (specs/arcmanager.md §6.6): the frontend's chunked multipart protocol, each chunk
 * (up to 100 MiB) streamed into the blob store as it arrives, 202 for every chunk but the last; the last
 * one finds every chunk (409 with `missing-package: <index>` for one that is missing, which the frontend
 * sends again), then the whole file goes to the hub through the files API or Git LFS (upload-transfer.ts).
 * The file part comes before the fields that name it, so its row is written before its blob and named once
 * the fields are read; one that never gets named is deleted when the request ends.
 */
import { randomBytes } from "node:crypto";
import multipart, { type MultipartFile } from "@fastify/multipart";
import type { FastifyRequest } from "fastify";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { AppError } from "#errors";
import type { Clock } from "#lib/clock";
import type { ConnectService, SignedInRequest } from "#modules/connect";
import { type BlobStore, BlobTooLargeError } from "../../storage/index.ts";
import { HubApi } from "./hub-api.ts";
import { sendJsonString } from "./json-string.ts";
import { branch, pathInArc, projectId, tags } from "./route-schemas.ts";
import type { UploadChunkStore } from "./upload-chunks.ts";
import { commitToLfs, commitWhole, type UploadMetrics } from "./upload-transfer.ts";

/** How often (in chunks) the upload checks the user may still write to the ARC: the original's 20. */
const ACCESS_CHECK_EVERY = 20;
const MAX_CHUNKS = 10_000;

export interface UploadRoutesOptions {
	readonly connect: ConnectService;
	readonly blobs: BlobStore;
	readonly chunks: UploadChunkStore;
	readonly clock: Clock;
	readonly metrics: UploadMetrics;
	readonly maxChunkBytes: number;
	readonly retryPauseMs?: number;
}

interface ReceivedChunk {
	readonly signedIn: SignedInRequest;
	blobKey: string | undefined;
	isNamed: boolean;
}

const flag = z.enum(["true", "false"]).default("false");

const uploadFields = z
	.object({
		file: z.string().meta({
			description: "This chunk's bytes (a file part).",
			format: "binary",
		}),
		name: z.string().min(1).max(255).meta({ description: "The file's name." }),
		id: projectId,
		path: pathInArc.meta({ description: "The file's full path in the ARC." }),
		branch,
		namespace: z.string().max(1_024).default("").meta({
			description:
				"The ARC's path_with_namespace, as the frontend sends it; LFS uses GitLab's own (looked up), not this one.",
		}),
		lfs: flag.meta({ description: "Send the file through Git LFS." }),
		chunkNumber: z.coerce.number().int().min(0).max(MAX_CHUNKS).default(0),
		totalChunks: z.coerce.number().int().min(1).max(MAX_CHUNKS).default(1),
	})
	.refine((fields) => fields.chunkNumber < fields.totalChunks, {
		path: ["chunkNumber"],
		message: "below totalChunks",
	});

export const uploadRoutes: FastifyPluginAsyncZod<UploadRoutesOptions> = async (app, options) => {
	const { connect, blobs, chunks, clock } = options;
	const received = new WeakMap<FastifyRequest, ReceivedChunk>();

	/** Deletes a chunk that was stored but not (or no longer) wanted: blob first, then its row. */
	const discard = async (blobKey: string) => {
		await blobs.delete(blobKey);
		await chunks.delete(blobKey);
	};

	async function onFile(this: FastifyRequest, part: MultipartFile): Promise<void> {
		const chunk = received.get(this);
		if (chunk === undefined || part.fieldname !== "file" || chunk.blobKey !== undefined) {
			part.file.resume();
			throw new AppError("invalid_request", { description: "file: one file part, named file" });
		}
		const blobKey = `arcs-upload-${randomBytes(18).toString("base64url")}`;
		await chunks.addPending(
			blobKey,
			{ id: chunk.signedIn.session.id, hub: chunk.signedIn.session.hub.name },
			clock.nowMs(),
		);
		chunk.blobKey = blobKey;
		try {
			const { sizeBytes } = await blobs.put(blobKey, part.file, {
				maxBytes: options.maxChunkBytes,
			});
			await chunks.setSize(blobKey, sizeBytes);
		} catch (error) {
			part.file.resume();
			if (error instanceof BlobTooLargeError)
				throw new AppError("payload_too_large", {
					description: `file: a chunk is at most ${options.maxChunkBytes} bytes`,
				});
			throw error;
		}
		part.value = blobKey;
	}

	await app.register(multipart, {
		attachFieldsToBody: "keyValues",
		onFile,
		limits: {
			// One byte more than a chunk may have: the blob store's own limit is what refuses it (413).
			fileSize: options.maxChunkBytes + 1,
			files: 1,
			fields: 16,
			fieldSize: 8_192,
		},
	});

	app.addHook("onRequest", async (request) => {
		received.set(request, {
			signedIn: await connect.requireSession(request),
			blobKey: undefined,
			isNamed: false,
		});
	});
	const discardUnnamed = async (request: FastifyRequest) => {
		const chunk = received.get(request);
		if (chunk?.blobKey === undefined || chunk.isNamed) return;
		const { blobKey } = chunk;
		// Once: onResponse follows onSend for most answers.
		chunk.blobKey = undefined;
		await discard(blobKey).catch((error: unknown) =>
			request.log.warn({ err: error }, "arcs: an unnamed upload chunk is left for the purge"),
		);
	};
	// Before the answer goes out (the client sees the chunk gone), and again after for answers that skip onSend.
	app.addHook("onSend", async (request, _reply, payload) => {
		await discardUnnamed(request);
		return payload;
	});
	app.addHook("onResponse", discardUnnamed);

	app.post(
		`${connect.prefix}/fnf/uploadFile`,
		{
			preHandler: connect.refuseCrossSite,
			schema: {
				tags,
				summary:
					"Upload a file in chunks (the ARCmanager frontend's multipart protocol): 202 per chunk, then on the last the file is committed (201 new, 200 replaced), through Git LFS when lfs is true. A missing chunk is 409 with its index in `missing-package`.",
				consumes: ["multipart/form-data"],
				body: uploadFields,
				response: {
					200: z.string(),
					201: z.string(),
					202: z.string(),
					400: connect.detailBody,
					401: connect.detailBody,
					403: connect.detailBody,
					404: connect.detailBody,
					409: connect.detailBody,
					413: connect.detailBody,
					502: connect.detailBody,
					504: connect.detailBody,
				},
			},
		},
		async (request, reply) => {
			const chunk = received.get(request);
			const fields = request.body;
			if (chunk?.blobKey === undefined || fields.file !== chunk.blobKey)
				throw new AppError("invalid_request", { description: "file: this chunk's bytes" });
			const { session } = chunk.signedIn;
			const hub = new HubApi(connect, session);
			if (fields.chunkNumber % ACCESS_CHECK_EVERY === 0)
				await hub.ok(
					"HEAD",
					`/projects/${fields.id}/repository/tree`,
					"Token expired! Please refresh your session!",
					{ query: new URLSearchParams({ ref: fields.branch }) },
				);
			const target = {
				sessionId: session.id,
				projectId: fields.id,
				branch: fields.branch,
				path: fields.path,
			};
			const replaced = await chunks.name(chunk.blobKey, target, {
				number: fields.chunkNumber,
				total: fields.totalChunks,
			});
			chunk.isNamed = true;
			for (const key of replaced)
				await discard(key).catch((error: unknown) =>
					request.log.warn({ err: error }, "arcs: a replaced upload chunk is left for the purge"),
				);
			if (fields.chunkNumber + 1 < fields.totalChunks)
				return sendJsonString(
					reply,
					202,
					`Received chunk ${fields.chunkNumber + 1} of ${fields.totalChunks} for file ${fields.name}`,
				);
			const stored = (await chunks.chunksOf(target)).filter(
				(candidate) => candidate.totalChunks === fields.totalChunks,
			);
			for (let number = 0; number < fields.totalChunks; number += 1)
				if (stored[number]?.chunkNumber !== number) {
					reply.header("missing-package", String(number));
					throw new AppError("conflict", {
						description: `Chunk ${number} of ${fields.name} is missing: send it again`,
					});
				}
			const transfer = {
				hub,
				blobs,
				chunks: stored,
				projectId: fields.id,
				branch: fields.branch,
				path: fields.path,
				name: fields.name,
				logger: request.log,
				metrics: options.metrics,
				...(options.retryPauseMs === undefined ? {} : { retryPauseMs: options.retryPauseMs }),
			};
			const isLfs = fields.lfs === "true";
			const { isNew } = isLfs ? await commitToLfs(transfer) : await commitWhole(transfer);
			const keys = stored.map((candidate) => candidate.blobKey);
			await chunks.release(keys);
			for (const key of keys)
				await discard(key).catch((error: unknown) =>
					request.log.warn({ err: error }, "arcs: an upload chunk is left for the purge"),
				);
			if (isLfs)
				return sendJsonString(
					reply,
					201,
					isNew
						? `File ${fields.name} was uploaded successfully!`
						: `File ${fields.name} was updated`,
				);
			return sendJsonString(
				reply,
				isNew ? 201 : 200,
				isNew ? `Uploaded new File ${fields.name}` : `Updated File ${fields.name}`,
			);
		},
	);
};

/** Deletes chunks received before `receivedBeforeMs` and released ones (blob first); returns how many. */
export async function purgeUploadChunks(
	chunks: UploadChunkStore,
	blobs: BlobStore,
	receivedBeforeMs: number,
	signal: AbortSignal,
): Promise<number> {
	let purged = 0;
	for (;;) {
		const keys = await chunks.stale(receivedBeforeMs, 100);
		if (keys.length === 0 || signal.aborted) return purged;
		for (const key of keys) {
			await blobs.delete(key);
			await chunks.delete(key);
			purged += 1;
		}
	}
}
