/**
 * ARCmanager's folder and file routes (specs/arcmanager.md §6.7): create a folder (its `.gitkeep`), delete
 * a file, delete or rename a folder in one commit over every page of its tree (the original used the
 * parent's page count for sub-folders), `.gitattributes` kept in step (its LFS lines removed or renamed).
 */
import type { FastifyRequest } from "fastify";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { AppError } from "#errors";
import type { ConnectService } from "#modules/connect";
import { keepGitAttributes } from "./gitattributes.ts";
import { filePath, type HubApi, hubApiOf } from "./hub-api.ts";
import { sendJsonString } from "./json-string.ts";
import { branch, projectId, tags } from "./route-schemas.ts";
import { sanitizeInput } from "./sanitize.ts";

const repoPath = z
	.string()
	.min(1)
	.max(4_096)
	.refine(
		(path) => !path.split("/").some((segment) => segment === ".." || segment === "."),
		"no . or .. segments",
	);

const treeBlob = z.looseObject({ type: z.string(), path: z.string() });

/** Every file below `folder` on `ref` (all pages; recursive). @throws not_found for no such folder. */
async function filesBelow(hub: HubApi, id: number, folder: string, ref: string): Promise<string[]> {
	const all = await hub
		.all(
			`/projects/${id}/repository/tree`,
			"No such folder",
			new URLSearchParams({ path: folder, ref, recursive: "true" }),
		)
		.catch((error: unknown) => {
			throw error instanceof AppError && error.code === "invalid_request"
				? new AppError("not_found", { description: error.message })
				: error;
		});
	return z
		.array(treeBlob)
		.parse(all)
		.filter((entry) => entry.type === "blob")
		.map((entry) => entry.path);
}

export const folderRoutes: FastifyPluginAsyncZod<{ connect: ConnectService }> = async (
	app,
	{ connect },
) => {
	const base = `${connect.prefix}/fnf`;
	const hubOf = (request: FastifyRequest) => hubApiOf(connect, request);
	const failures = {
		400: connect.detailBody,
		401: connect.detailBody,
		403: connect.detailBody,
		404: connect.detailBody,
		409: connect.detailBody,
		504: connect.detailBody,
	};

	app.post(
		`${base}/createFolder`,
		{
			preHandler: connect.refuseCrossSite,
			schema: {
				tags,
				summary:
					"Create a folder (its .gitkeep); spaces in the name become _. Answers GitLab's reply as a JSON string.",
				body: z.object({
					identifier: z
						.string()
						.min(1)
						.max(255)
						.regex(/^[^/\\]+$/, "one path segment"),
					id: projectId,
					path: z.string().max(4_096).default(""),
					branch,
				}),
				response: { 201: z.string(), ...failures },
			},
		},
		async (request, reply) => {
			const hub = await hubOf(request);
			const { identifier, id, path, branch: ref } = request.body;
			if (path.split("/").some((segment) => segment === ".." || segment === "."))
				throw new AppError("invalid_request", { description: "body.path: no . or .. segments" });
			const folder = [path.replace(/\/+$/, ""), sanitizeInput(identifier).replaceAll(" ", "_")]
				.filter(Boolean)
				.join("/");
			const answer = await hub.ok(
				"POST",
				filePath(id, `${folder}/.gitkeep`),
				"Could not create the folder",
				{
					json: { branch: ref, content: "", commit_message: `Created new folder ${folder}` },
				},
			);
			return sendJsonString(reply, 201, JSON.stringify(answer.json));
		},
	);

	app.delete(
		`${base}/deleteFile`,
		{
			preHandler: connect.refuseCrossSite,
			schema: {
				tags,
				summary: "Delete a file (and its LFS line in .gitattributes).",
				querystring: z.object({ id: projectId, path: repoPath, branch }),
				response: { 200: z.string(), ...failures },
			},
		},
		async (request, reply) => {
			const hub = await hubOf(request);
			const { id, path, branch: ref } = request.query;
			await hub.ok("DELETE", filePath(id, path), "Could not delete the file", {
				json: { branch: ref, commit_message: `Delete file ${path}` },
			});
			await keepGitAttributes(hub, id, ref, { removed: new Set([path]) });
			return sendJsonString(reply, 200, "Successfully deleted the file!");
		},
	);

	app.delete(
		`${base}/deleteFolder`,
		{
			preHandler: connect.refuseCrossSite,
			schema: {
				tags,
				summary: "Delete a folder and everything below it, in one commit.",
				querystring: z.object({ id: projectId, path: repoPath, branch }),
				response: { 200: z.string(), ...failures },
			},
		},
		async (request, reply) => {
			const hub = await hubOf(request);
			const { id, path, branch: ref } = request.query;
			const files = await filesBelow(hub, id, path, ref);
			if (files.length === 0) throw new AppError("not_found", { description: "No such folder" });
			await hub.ok("POST", `/projects/${id}/repository/commits`, "Could not delete the folder", {
				json: {
					branch: ref,
					commit_message: `Deleting all content from ${path}`,
					actions: files.map((file) => ({ action: "delete", file_path: file })),
				},
			});
			await keepGitAttributes(hub, id, ref, { removed: new Set(files) });
			return sendJsonString(reply, 200, "Successfully deleted the folder!");
		},
	);

	app.put(
		`${base}/renameFolder`,
		{
			preHandler: connect.refuseCrossSite,
			schema: {
				tags,
				summary: "Move a folder and everything below it, in one commit.",
				querystring: z.object({ id: projectId, oldPath: repoPath, newPath: repoPath, branch }),
				response: { 200: z.string(), ...failures },
			},
		},
		async (request, reply) => {
			const hub = await hubOf(request);
			const { id, oldPath, newPath, branch: ref } = request.query;
			const from = oldPath.replace(/\/+$/, "");
			const to = sanitizeInput(newPath.replace(/\/+$/, "")).replaceAll(" ", "_");
			if (to === from || to.startsWith(`${from}/`))
				throw new AppError("invalid_request", {
					description: "newPath must not be oldPath or below it",
				});
			const files = await filesBelow(hub, id, from, ref);
			if (files.length === 0) throw new AppError("not_found", { description: "No such folder" });
			const renamed = new Map(files.map((file) => [file, `${to}${file.slice(from.length)}`]));
			await hub.ok("POST", `/projects/${id}/repository/commits`, "Could not rename the folder", {
				json: {
					branch: ref,
					commit_message: `Moving all content from ${from} to ${to}`,
					actions: [...renamed].map(([previous, next]) => ({
						action: "move",
						previous_path: previous,
						file_path: next,
					})),
				},
			});
			await keepGitAttributes(hub, id, ref, { renamed });
			return sendJsonString(reply, 200, "Successfully renamed the folder!");
		},
	);
};
