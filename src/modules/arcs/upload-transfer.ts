/**
 * An upload's chunks, once all are in, sent to the hub as one file (specs/arcmanager.md §6.6), streamed
 * from the blob store and never held whole: either committed through the files API (base64 inside the
 * JSON body, with its exact length), or through Git LFS: the batch API, the object PUT to the href the hub
 * gave (only ever on the hub itself), the pointer committed, the object checked through a download action,
 * and the path's line in `.gitattributes`. Steps that fail on the hub's side are tried again a bounded
 * number of times after a growing pause (awaited, never a blocking sleep), each one logged and counted.
 */
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { setTimeout as pause } from "node:timers/promises";
import type { FastifyBaseLogger } from "fastify";
import type { Counter } from "prom-client";
import { z } from "zod";
import { AppError } from "#errors";
import type { BlobStore } from "../../storage/index.ts";
import { editGitAttributes, keepGitAttributes, lfsLineOf, withLfsLine } from "./gitattributes.ts";
import { filePath, type HubAnswer, type HubApi, refusal } from "./hub-api.ts";
import type { StoredChunk } from "./upload-chunks.ts";

const LFS_MEDIA_TYPE = "application/vnd.git-lfs+json";
/** Tries of each hub step (the original's four), the pause before the n-th retry n × this. */
const ATTEMPTS = 4;
const DEFAULT_RETRY_PAUSE_MS = 1_000;

export interface UploadMetrics {
	readonly retries: Counter<"step">;
	readonly bytes: Counter<"kind">;
}

export interface TransferOptions {
	readonly hub: HubApi;
	readonly blobs: BlobStore;
	readonly chunks: readonly StoredChunk[];
	readonly projectId: number;
	readonly branch: string;
	readonly path: string;
	readonly name: string;
	readonly logger: FastifyBaseLogger;
	readonly metrics: UploadMetrics;
	readonly retryPauseMs?: number;
}

/** The chunks' bytes in order, one blob open at a time. */
async function* bytesOf(
	blobs: BlobStore,
	chunks: readonly StoredChunk[],
): AsyncGenerator<Uint8Array> {
	for (const chunk of chunks) {
		const opened = await blobs.open(chunk.blobKey);
		if (opened === null)
			throw new AppError("conflict", {
				description: `Chunk ${chunk.chunkNumber} is gone: please upload the file again`,
			});
		for await (const piece of opened.stream) yield piece as Uint8Array;
	}
}

/** base64 of a byte stream, piece by piece (each piece a multiple of three bytes but the last). */
async function* base64Of(bytes: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
	let carried = Buffer.alloc(0);
	for await (const piece of bytes) {
		const joined = carried.length === 0 ? Buffer.from(piece) : Buffer.concat([carried, piece]);
		const whole = joined.length - (joined.length % 3);
		if (whole > 0) yield joined.subarray(0, whole).toString("base64");
		carried = joined.subarray(whole);
	}
	if (carried.length > 0) yield carried.toString("base64");
}

async function sha256Of(
	blobs: BlobStore,
	chunks: readonly StoredChunk[],
): Promise<{ oid: string; size: number }> {
	const hash = createHash("sha256");
	let size = 0;
	for await (const piece of bytesOf(blobs, chunks)) {
		hash.update(piece);
		size += piece.byteLength;
	}
	return { oid: hash.digest("hex"), size };
}

const isRetried = (status: number) => status === 429 || status >= 500;

/** Runs `step` until it answers something other than a hub failure, at most ATTEMPTS times. */
async function withRetries(
	options: TransferOptions,
	step: string,
	run: () => Promise<HubAnswer>,
): Promise<HubAnswer> {
	const pauseMs = options.retryPauseMs ?? DEFAULT_RETRY_PAUSE_MS;
	for (let attempt = 1; ; attempt += 1) {
		const answer = await run();
		if (!isRetried(answer.status) || attempt === ATTEMPTS) return answer;
		options.metrics.retries.inc({ step });
		options.logger.warn(
			{ step, status: answer.status, attempt },
			"arcs: the hub failed an upload step; trying again",
		);
		await pause(attempt * pauseMs);
	}
}

function mustSucceed(answer: HubAnswer, what: string): HubAnswer {
	if (answer.status < 200 || answer.status >= 300) throw refusal(answer, what);
	return answer;
}

/** The file's last commit on the branch, or null when it does not exist there. */
async function lastCommitOf(options: TransferOptions): Promise<string | null> {
	const { hub, projectId, branch, path } = options;
	const head = await hub.call("HEAD", filePath(projectId, path), {
		query: new URLSearchParams({ ref: branch }),
	});
	if (head.status === 404) return null;
	mustSucceed(head, "Could not look the file up");
	const commit = head.headers["x-gitlab-last-commit-id"];
	return (Array.isArray(commit) ? commit[0] : commit) ?? null;
}

/**
 * Commits the file through the files API. Returns whether it is new. A file already there is replaced
 * with its last_commit_id, so an edit made meanwhile is 409.
 */
export async function commitWhole(options: TransferOptions): Promise<{ isNew: boolean }> {
	const { hub, blobs, chunks, projectId, branch, path, name } = options;
	const lastCommitId = await lastCommitOf(options);
	const isNew = lastCommitId === null;
	const size = chunks.reduce((sum, chunk) => sum + chunk.sizeBytes, 0);
	const head = `{${[
		`"branch":${JSON.stringify(branch)}`,
		`"commit_message":${JSON.stringify(isNew ? `Upload of new File ${name}` : `Updating File ${name}`)}`,
		...(isNew ? [] : [`"last_commit_id":${JSON.stringify(lastCommitId)}`]),
		`"encoding":"base64"`,
		`"content":"`,
	].join(",")}`;
	const tail = `"}`;
	const length = Buffer.byteLength(head) + 4 * Math.ceil(size / 3) + tail.length;
	const answer = await withRetries(options, "commit", () =>
		hub.stream(isNew ? "POST" : "PUT", `/api/v4${filePath(projectId, path)}`, {
			credential: "bearer",
			headers: {
				accept: "application/json",
				"content-type": "application/json",
				"content-length": String(length),
			},
			body: Readable.from(
				(async function* () {
					yield head;
					yield* base64Of(bytesOf(blobs, chunks));
					yield tail;
				})(),
			),
		}),
	);
	mustSucceed(answer, `Could not upload ${name}`);
	options.metrics.bytes.inc({ kind: "files_api" }, size);
	await keepGitAttributes(hub, projectId, branch, { removed: new Set([path]) });
	return { isNew };
}

const lfsAction = z.object({
	href: z.string(),
	header: z.record(z.string(), z.string()).optional(),
});
const batchAnswer = z.looseObject({
	objects: z
		.array(
			z.looseObject({
				oid: z.string(),
				actions: z
					.looseObject({ upload: lfsAction.optional(), download: lfsAction.optional() })
					.optional(),
				error: z.looseObject({ code: z.number(), message: z.string() }).optional(),
			}),
		)
		.min(1),
});

const projectAnswer = z.looseObject({ path_with_namespace: z.string() });

/** The repository's path on the hub, as GitLab names it (not the form's `namespace`, which anyone can set). */
async function repositoryPathOf(hub: HubApi, projectId: number): Promise<string> {
	const answer = await hub.ok("GET", `/projects/${projectId}`, "No such ARC");
	const project = projectAnswer.parse(answer.json);
	return project.path_with_namespace.split("/").map(encodeURIComponent).join("/");
}

async function batch(
	options: TransferOptions,
	repository: string,
	operation: "upload" | "download",
	object: { oid: string; size: number },
): Promise<z.output<typeof batchAnswer>["objects"][number]> {
	const body = JSON.stringify({
		operation,
		objects: [object],
		transfers: ["basic"],
		ref: { name: `refs/heads/${options.branch}` },
		hash_algo: "sha256",
	});
	const answer = await withRetries(options, `lfs_batch_${operation}`, () =>
		options.hub.stream("POST", `/${repository}.git/info/lfs/objects/batch`, {
			credential: "git-basic",
			headers: { accept: LFS_MEDIA_TYPE, "content-type": LFS_MEDIA_TYPE },
			body,
		}),
	);
	mustSucceed(answer, "The DataHUB refused the LFS transfer");
	const parsed = batchAnswer.safeParse(answer.json);
	const found = parsed.success ? parsed.data.objects[0] : undefined;
	if (found === undefined)
		throw new AppError("upstream_error", {
			description: "The DataHUB's LFS answer could not be read",
			cause: parsed.success ? "no object" : parsed.error.message,
		});
	return found;
}

/** An LFS action's target on the hub. @throws upstream_error for one anywhere else (no SSRF). */
function actionTarget(
	hub: HubApi,
	action: z.output<typeof lfsAction>,
): { path: string; query: URLSearchParams; headers: Record<string, string> } {
	const target = hub.hubPathOf(action.href);
	if (target === null)
		throw new AppError("upstream_error", {
			description: "The DataHUB sent the LFS object elsewhere",
			cause: "an LFS action href outside the hub",
		});
	const headers = Object.fromEntries(
		Object.entries(action.header ?? {})
			.filter(([name]) => !["transfer-encoding", "content-length"].includes(name.toLowerCase()))
			.map(([name, value]) => [name.toLowerCase(), value]),
	);
	return { ...target, headers };
}

/** Whether the hub can hand the object out (its download action answers a HEAD). */
async function isDownloadable(
	options: TransferOptions,
	repository: string,
	object: { oid: string; size: number },
): Promise<boolean> {
	const found = await batch(options, repository, "download", object);
	const download = found.actions?.download;
	if (download === undefined) return false;
	const target = actionTarget(options.hub, download);
	const head = await options.hub.stream("HEAD", target.path, {
		credential: "none",
		headers: target.headers,
		query: target.query,
		body: null,
	});
	return head.status >= 200 && head.status < 300;
}

/**
 * Sends the file to the hub's LFS store and commits its pointer; `.gitattributes` gets the path's line.
 * Returns whether the path is new.
 */
export async function commitToLfs(options: TransferOptions): Promise<{ isNew: boolean }> {
	const { hub, blobs, chunks, projectId, branch, path } = options;
	const object = await sha256Of(blobs, chunks);
	const repository = await repositoryPathOf(hub, projectId);
	const pauseMs = options.retryPauseMs ?? DEFAULT_RETRY_PAUSE_MS;
	for (let attempt = 1; ; attempt += 1) {
		const found = await batch(options, repository, "upload", object);
		if (found.error !== undefined)
			throw new AppError("invalid_request", {
				description: `The DataHUB refused the LFS object: ${found.error.message}`,
			});
		const upload = found.actions?.upload;
		if (upload !== undefined) {
			const target = actionTarget(hub, upload);
			const put = await hub.stream("PUT", target.path, {
				credential: "none",
				headers: {
					"content-type": "application/octet-stream",
					...target.headers,
					"content-length": String(object.size),
				},
				query: target.query,
				body: Readable.from(bytesOf(blobs, chunks)),
			});
			if (put.status < 200 || put.status >= 300) {
				if (!isRetried(put.status) || attempt === ATTEMPTS)
					throw refusal(put, "The DataHUB refused the LFS object");
			} else options.metrics.bytes.inc({ kind: "lfs" }, object.size);
		}
		if (await isDownloadable(options, repository, object)) break;
		if (attempt === ATTEMPTS)
			throw new AppError("upstream_error", {
				description: "The DataHUB did not keep the LFS object",
				cause: `${object.oid} not downloadable after ${ATTEMPTS} uploads`,
			});
		options.metrics.retries.inc({ step: "lfs_object" });
		options.logger.warn({ attempt }, "arcs: the LFS object is not downloadable; sending it again");
		await pause(attempt * pauseMs);
	}
	const pointer = `version https://git-lfs.github.com/spec/v1\noid sha256:${object.oid}\nsize ${object.size}\n`;
	const lastCommitId = await lastCommitOf(options);
	const isNew = lastCommitId === null;
	const committed = await withRetries(options, "lfs_pointer", () =>
		hub.call(isNew ? "POST" : "PUT", filePath(projectId, path), {
			json: {
				branch,
				content: Buffer.from(pointer, "utf8").toString("base64"),
				encoding: "base64",
				commit_message: "Create a new lfs pointer file",
				...(isNew ? {} : { last_commit_id: lastCommitId }),
			},
		}),
	);
	mustSucceed(committed, "Could not commit the LFS pointer");
	await editGitAttributes(
		hub,
		projectId,
		branch,
		(text) => withLfsLine(text, path),
		lfsLineOf(path),
	);
	return { isNew };
}
