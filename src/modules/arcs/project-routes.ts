/**
 * ARCmanager's listing, tree and file routes (specs/arcmanager.md §6.2, §6.3, §6.11): the user's and the
 * public ARCs with `total-pages`, branches, changes, the tree (every page), a folder's entries, studies
 * and assays (every page, not the original's first twenty), a file's content (text sanitised, 413 over the
 * limit), `commitFile` from the request body only (the original read a server path, §0.2 #5) guarded by
 * GitLab's `last_commit_id` (a concurrent edit is 409), and the hub's banner.
 */
import type { FastifyRequest } from "fastify";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { AppError } from "#errors";
import type { ConnectService } from "#modules/connect";
import { contentResponse } from "../../http/openapi.ts";
import type { ArcsConfig } from "./config.ts";
import { filePath, type HubApi, hubApiOf, totalPagesOf } from "./hub-api.ts";
import { metadataOf, readIsaFile, saveIsaFile, syncLinksOf } from "./isa-sync.ts";
import {
	annotationSheets,
	isaTypeOf,
	metadataSheet,
	readWorkbook,
	rowsOf,
	splitJson,
	writeRow,
} from "./isa-workbook.ts";
import { sendJsonString } from "./json-string.ts";
import { branch, projectId, tags } from "./route-schemas.ts";
import { isShownAsText, sanitizeCell, sanitizeInput, sanitizeShownText } from "./sanitize.ts";

const repoPath = z.string().min(1).max(4_096);
const page = z.coerce.number().int().min(1).default(1);
const anyJson = (description: string) =>
	contentResponse(description, "application/json", z.unknown());

const treeEntry = z.looseObject({
	id: z.string(),
	name: z.string(),
	type: z.string(),
	path: z.string(),
	mode: z.string(),
});
const gitlabFile = z.looseObject({
	file_name: z.string(),
	file_path: z.string(),
	size: z.number(),
	encoding: z.string(),
	content: z.string(),
	last_commit_id: z.string(),
});
const commitEntry = z.looseObject({ title: z.string(), created_at: z.string() });
const banner = z.looseObject({ active: z.boolean().optional() });

export interface ProjectRoutesOptions {
	readonly connect: ConnectService;
	readonly section: ArcsConfig;
}

const LFS_POINTER =
	/^version https:\/\/git-lfs\.github\.com\/spec\/v1\noid sha256:([0-9a-f]{64})\nsize (\d+)\n/;

/** The object a Git LFS pointer file names; null for any other content. */
export function lfsPointerOf(bytes: Buffer): { oid: string; size: number } | null {
	if (bytes.length > 512) return null;
	const match = LFS_POINTER.exec(bytes.toString("utf8"));
	return match?.[1] === undefined ? null : { oid: match[1], size: Number(match[2]) };
}

/** A file's bytes as shown: an LFS pointer's object in its place (413 over the limit). */
async function shownBytes(
	hub: HubApi,
	id: number,
	path: string,
	ref: string,
	section: ArcsConfig,
): Promise<Buffer> {
	const { bytes } = await hub.fileBytes(id, path, ref);
	const pointer = lfsPointerOf(bytes);
	if (pointer === null) return bytes;
	if (pointer.size > section.max_file_bytes)
		throw new AppError("payload_too_large", { description: "File too large! (over 50 MB)" });
	return hub.rawFile(id, path, ref, { lfs: true });
}

/**
 * The original rendered each PDF page to a JPEG with poppler. Browsers show PDFs themselves: the page
 * embeds the file, with a link to GitLab's raw file for a browser that will not.
 */
function pdfPreview(base64: string, rawUrl: string): string {
	const link = rawUrl.replaceAll("&", "&amp;").replaceAll('"', "&quot;").replaceAll("<", "&lt;");
	return `<object data="data:application/pdf;base64,${base64}" type="application/pdf" width="100%" height="800"><p><a href="${link}" target="_blank" rel="noopener">Open the PDF</a></p></object>`;
}

export const projectRoutes: FastifyPluginAsyncZod<ProjectRoutesOptions> = async (app, options) => {
	const { connect, section } = options;
	const base = `${connect.prefix}/projects`;
	const hubOf = (request: FastifyRequest) => hubApiOf(connect, request);
	const failures = {
		400: connect.detailBody,
		401: connect.detailBody,
		404: connect.detailBody,
		504: connect.detailBody,
	};

	const listQuery = z.object({ owned: z.stringbool().default(false), page });
	const listing = (owned: boolean, pageNumber: number) => {
		const query = new URLSearchParams({ page: String(pageNumber) });
		if (owned) query.set("min_access_level", "30");
		return query;
	};
	app.get(
		`${base}/arc_list`,
		{
			// Its HEAD is a route of its own: the header only, from GitLab's HEAD.
			exposeHeadRoute: false,
			schema: {
				tags,
				summary:
					"The user's ARCs (owned: those they can write to), one page; `total-pages` gives the count.",
				querystring: listQuery,
				response: { 200: anyJson("`{projects: [Project]}`"), ...failures },
			},
		},
		async (request, reply) => {
			const hub = await hubOf(request);
			const answer = await hub.ok("GET", "/projects", "Could not list the ARCs", {
				query: listing(request.query.owned, request.query.page),
			});
			reply.header("total-pages", totalPagesOf(answer));
			return { projects: answer.json };
		},
	);
	app.head(
		`${base}/arc_list`,
		{
			schema: {
				tags,
				summary: "Only the `total-pages` header of arc_list (the frontend asks it first).",
				querystring: listQuery,
				response: { 200: z.null().meta({ description: "`total-pages` set." }), ...failures },
			},
		},
		async (request, reply) => {
			const hub = await hubOf(request);
			const answer = await hub.ok("HEAD", "/projects", "Could not count the ARCs", {
				query: listing(request.query.owned, 1),
			});
			return reply.header("total-pages", totalPagesOf(answer)).send(null);
		},
	);

	app.get(
		`${base}/public_arcs`,
		{
			schema: {
				tags,
				summary: "A hub's public ARCs, without a login; `total-pages` gives the count.",
				querystring: z.object({ target: z.string().min(1).max(64), page }),
				response: { 200: anyJson("`{projects: [Project]}`"), ...failures },
			},
		},
		async (request, reply) => {
			const hub = connect.hub(request.query.target);
			const answer = await connect
				.callAnonymously(hub, {
					method: "GET",
					path: "/api/v4/projects",
					query: new URLSearchParams({
						page: String(request.query.page),
						visibility: "public",
					}).toString(),
					headers: { accept: "application/json" },
					signal: AbortSignal.timeout(section.public_timeout_ms),
				})
				.catch((error: unknown) => {
					throw new AppError("upstream_unavailable", { cause: error });
				});
			const text = await answer.body.text();
			if (answer.status >= 500) throw new AppError("upstream_unavailable", { cause: text });
			if (answer.status !== 200) throw new AppError("upstream_error", { cause: text });
			reply.header("total-pages", totalPagesOf(answer));
			return { projects: JSON.parse(text) };
		},
	);

	const treeQuery = z.object({ id: projectId, branch });
	const entries = (json: unknown) =>
		z
			.array(treeEntry)
			.parse(json)
			.map(({ id, name, type, path, mode }) => ({ id, name, type, path, mode }));
	app.get(
		`${base}/arc_tree`,
		{
			schema: {
				tags,
				summary: "The top level of an ARC's tree (every page of it).",
				querystring: treeQuery,
				response: { 200: anyJson("`{Arc: [{id, name, type, path, mode}]}`"), ...failures },
			},
		},
		async (request) => {
			const hub = await hubOf(request);
			const all = await hub
				.all(
					`/projects/${request.query.id}/repository/tree`,
					"No such ARC or branch",
					new URLSearchParams({ ref: request.query.branch }),
				)
				.catch((error: unknown) => {
					throw error instanceof AppError && error.status < 500 && error.status !== 401
						? new AppError("not_found", { description: error.message })
						: error;
				});
			return { Arc: entries(all) };
		},
	);

	app.get(
		`${base}/arc_path`,
		{
			schema: {
				tags,
				summary: "One page of a folder's entries; `total-pages` gives the count.",
				querystring: z.object({ id: projectId, path: repoPath, page, branch }),
				response: { 200: anyJson("`{Arc: [{id, name, type, path, mode}]}`"), ...failures },
			},
		},
		async (request, reply) => {
			const hub = await hubOf(request);
			const { id, path, branch: ref } = request.query;
			const answer = await hub.ok("GET", `/projects/${id}/repository/tree`, "No such folder", {
				query: new URLSearchParams({ path, ref, page: String(request.query.page) }),
			});
			reply.header("total-pages", totalPagesOf(answer));
			return { Arc: entries(answer.json) };
		},
	);

	for (const [route, folder] of [
		["getStudies", "studies"],
		["getAssays", "assays"],
	] as const)
		app.get(
			`${base}/${route}`,
			{
				schema: {
					tags,
					summary: `The names of the ARC's ${folder} (every page, not the original's first twenty).`,
					querystring: treeQuery,
					response: { 200: z.array(z.string()), ...failures },
				},
			},
			async (request) => {
				const hub = await hubOf(request);
				const all = await hub.all(
					`/projects/${request.query.id}/repository/tree`,
					`No ${folder} folder`,
					new URLSearchParams({ path: folder, ref: request.query.branch }),
				);
				return entries(all)
					.filter((entry) => entry.type === "tree")
					.map((entry) => entry.name);
			},
		);

	app.get(
		`${base}/getBranches`,
		{
			schema: {
				tags,
				summary: "The ARC's branch names.",
				querystring: z.object({ id: projectId }),
				response: { 200: z.array(z.string()), ...failures },
			},
		},
		async (request) => {
			const hub = await hubOf(request);
			const all = await hub.all(`/projects/${request.query.id}/repository/branches`, "No such ARC");
			const names = z.array(z.looseObject({ name: z.string() })).safeParse(all);
			return names.success ? names.data.map((entry) => entry.name) : ["main"];
		},
	);

	app.get(
		`${base}/getChanges`,
		{
			schema: {
				tags,
				summary: "The latest hundred commits of a branch, as `YYYY-MM-DD: <title>`.",
				querystring: treeQuery,
				response: { 200: z.array(z.string()), ...failures },
			},
		},
		async (request) => {
			const hub = await hubOf(request);
			const answer = await hub.ok(
				"GET",
				`/projects/${request.query.id}/repository/commits`,
				"No such ARC or branch",
				{
					query: new URLSearchParams({ per_page: "100", ref_name: request.query.branch }),
				},
			);
			return z
				.array(commitEntry)
				.parse(answer.json)
				.map((commit) => `${commit.created_at.slice(0, 10)}: ${commit.title}`);
		},
	);

	app.get(
		`${base}/arc_file`,
		{
			schema: {
				tags,
				summary:
					"A file as GitLab's file JSON (text files sanitised, as the original showed them); 413 over arcs.max_file_bytes.",
				querystring: z.object({ id: projectId, path: repoPath, branch }),
				response: {
					200: {
						description:
							"GitLab's file JSON (an LFS pointer resolved to its object); an ISA file's rows; a spreadsheet's split JSON; a PDF as an HTML page embedding it, with a link to the raw file.",
						content: {
							"application/json": { schema: z.unknown() },
							"text/html": { schema: z.string() },
						},
					},
					413: connect.detailBody,
					...failures,
				},
			},
		},
		async (request, reply) => {
			const hub = await hubOf(request);
			const { id, path, branch: ref } = request.query;
			const query = new URLSearchParams({ ref });
			const tooLarge = () =>
				new AppError("payload_too_large", { description: "File too large! (over 50 MB)" });
			const isaType = isaTypeOf(path);
			// ISA files are shown whatever their size (as the original): no HEAD for the size first.
			if (isaType !== null) {
				const workbook = await readWorkbook(await shownBytes(hub, id, path, ref, section));
				if (isaType === "datamap") return annotationSheets(workbook, isaType);
				const sheet = metadataSheet(workbook, isaType);
				return sheet === undefined ? [] : rowsOf(sheet).slice(1);
			}
			const head = await hub.ok("HEAD", filePath(id, path), "No such file", { query });
			if (Number(head.headers["x-gitlab-size"] ?? 0) > section.max_file_bytes) throw tooLarge();
			const answer = await hub.ok("GET", filePath(id, path), "No such file", { query });
			let file = gitlabFile.parse(answer.json);
			const pointer = lfsPointerOf(Buffer.from(file.content, "base64"));
			if (pointer !== null) {
				if (pointer.size > section.max_file_bytes) throw tooLarge();
				const bytes = await hub.rawFile(id, path, ref, { lfs: true });
				file = { ...file, size: bytes.length, content: bytes.toString("base64") };
			}
			if (/\.xlsx$/i.test(path)) {
				const sheet = (await readWorkbook(Buffer.from(file.content, "base64"))).worksheets[0];
				return sheet === undefined ? { columns: [], index: [], data: [] } : splitJson(sheet);
			}
			if (/\.pdf$/i.test(path)) {
				const project = z
					.looseObject({ web_url: z.string() })
					.parse((await hub.ok("GET", `/projects/${id}`, "No such ARC")).json);
				return reply
					.type("text/html; charset=utf-8")
					.send(
						pdfPreview(
							file.content,
							`${project.web_url}/-/raw/${encodeURIComponent(ref)}/${path.split("/").map(encodeURIComponent).join("/")}?inline=false`,
						),
					);
			}
			if (!isShownAsText(path)) return file;
			const text = Buffer.from(file.content, "base64").toString("utf8");
			return { ...file, content: Buffer.from(sanitizeShownText(text), "utf8").toString("base64") };
		},
	);

	app.put(
		`${base}/commitFile`,
		{
			schema: {
				tags,
				summary:
					"Commit a text file from the request body (`last_commit_id`, when given, must be the file's current one: else 409); answers GitLab's reply as a JSON string, as the original.",
				querystring: z.object({
					id: projectId,
					repoPath,
					branch,
					message: z.string().max(1_024).default(""),
					filePath: z
						.literal("")
						.optional()
						.meta({ description: "Refused unless empty: the content comes from the body only." }),
				}),
				body: z.object({
					content: z.string().max(10 * 1024 * 1024),
					last_commit_id: z
						.string()
						.regex(/^[0-9a-f]{40}$/)
						.optional(),
				}),
				response: { 200: z.string(), 409: connect.detailBody, ...failures },
			},
			preHandler: connect.refuseCrossSite,
		},
		async (request, reply) => {
			const hub = await hubOf(request);
			const { id, repoPath: path, branch: ref, message } = request.query;
			const current = await hub.call("HEAD", filePath(id, path), {
				query: new URLSearchParams({ ref }),
			});
			const lastCommitId =
				request.body.last_commit_id ??
				(current.status === 200
					? String(current.headers["x-gitlab-last-commit-id"] ?? "")
					: undefined);
			const answer = await hub.ok(
				current.status === 200 ? "PUT" : "POST",
				filePath(id, path),
				"Could not commit the file",
				{
					json: {
						branch: ref,
						content: Buffer.from(request.body.content, "utf8").toString("base64"),
						encoding: "base64",
						commit_message: `Updated ${path}${message === "" ? "" : `, changed ${sanitizeInput(message)}`}`,
						...(lastCommitId === undefined || lastCommitId === ""
							? {}
							: { last_commit_id: lastCommitId }),
					},
				},
			);
			return sendJsonString(reply, 200, JSON.stringify(answer.json));
		},
	);

	const rowInput = z
		.array(z.union([z.string().max(10_000), z.number(), z.null()]))
		.min(1)
		.refine((row) => typeof row[0] === "string", "the first item is the row's label");
	app.put(
		`${base}/saveFile`,
		{
			preHandler: connect.refuseCrossSite,
			schema: {
				tags,
				summary:
					"Write values into an ISA file's metadata row (found by its label, the first item): a string sets a cell, an empty one clears it, null leaves it. Committed with the file's last_commit_id: an edit made meanwhile is 409, never overwritten.",
				body: z.object({
					isaInput: z.union([rowInput, z.array(rowInput).min(1)]),
					isaPath: repoPath.refine((path) => isaTypeOf(path) !== null, "an isa.*.xlsx file"),
					isaRepo: projectId,
					arcBranch: branch,
					multiple: z.boolean().default(false),
				}),
				response: { 200: z.string(), 409: connect.detailBody, ...failures },
			},
		},
		async (request, reply) => {
			const hub = await hubOf(request);
			const { isaPath: path, isaRepo: id, arcBranch: ref, multiple } = request.body;
			const rows = (multiple ? request.body.isaInput : [request.body.isaInput]).filter(
				Array.isArray,
			);
			const { workbook, lastCommitId } = await readIsaFile(hub, id, path, ref);
			const sheet = metadataOf(workbook, path);
			for (const [label, ...values] of rows) {
				const text = typeof label === "string" ? label : "";
				const written = writeRow(sheet, text, values.map(sanitizeCell));
				if (!written)
					throw new AppError("invalid_request", { description: `No row "${text}" in ${path}` });
			}
			const firstLabel = String(rows[0]?.[0] ?? "");
			const answer = await saveIsaFile(hub, {
				id,
				path,
				ref,
				workbook,
				lastCommitId,
				message: `Updated ${path}, changed ${rows.length > 1 ? "multiple fields" : firstLabel}`,
			});
			// The edit is saved; studies or the investigation that list the file follow it. If they cannot
			// (a study without its STUDY ASSAYS block, an edit meanwhile), the save still stands.
			await syncLinksOf(hub, id, path, ref).catch((error: unknown) =>
				request.log.warn(
					{ err: error, path },
					"arcs: the files linking to an edited ISA file were not synced",
				),
			);
			return sendJsonString(reply, 200, JSON.stringify(answer.json));
		},
	);

	app.get(
		`${base}/getBanner`,
		{
			schema: {
				tags,
				summary: "The hub's active broadcast message, or null.",
				response: { 200: anyJson("A Banner or null."), ...failures },
			},
		},
		async (request) => {
			const { session } = await connect.requireSession(request);
			const answer = await connect.callAnonymously(session.hub, {
				method: "GET",
				path: "/api/v4/broadcast_messages",
				headers: { accept: "application/json" },
			});
			const messages = z.array(banner).safeParse(JSON.parse((await answer.body.text()) || "[]"));
			return (
				(messages.success ? messages.data : []).find((message) => message.active === true) ?? null
			);
		},
	);
};
