/**
 * Keeping `.gitattributes` in step (specs/arcmanager.md §6.6, §6.7): the LFS lines
 * `<path> filter=lfs diff=lfs merge=lfs[ -text]` of deleted paths are removed, of moved ones renamed, and
 * a file uploaded to LFS gets one.
 */
import { z } from "zod";
import { filePath, type HubApi } from "./hub-api.ts";

const LFS_LINE = /^(\S+) filter=lfs diff=lfs merge=lfs( -text)?$/;

/** The file's text with the LFS lines of `removed` gone and those of `renamed` moved; null: unchanged. */
export function updatedGitAttributes(
	text: string,
	change: { removed?: ReadonlySet<string>; renamed?: ReadonlyMap<string, string> },
): string | null {
	let isChanged = false;
	const lines = text.split("\n").flatMap((line) => {
		const match = LFS_LINE.exec(line);
		const path = match?.[1];
		if (path === undefined) return [line];
		if (change.removed?.has(path) === true) {
			isChanged = true;
			return [];
		}
		const renamedTo = change.renamed?.get(path);
		if (renamedTo === undefined) return [line];
		isChanged = true;
		return [`${renamedTo} filter=lfs diff=lfs merge=lfs${match?.[2] ?? ""}`];
	});
	return isChanged ? lines.join("\n") : null;
}

/** The line that routes `path` through Git LFS. */
export function lfsLineOf(path: string): string {
	return `${path} filter=lfs diff=lfs merge=lfs -text`;
}

/** The file's text with `path`'s LFS line added; null when it has one. */
export function withLfsLine(text: string, path: string): string | null {
	const hasLine = text.split("\n").some((line) => LFS_LINE.exec(line)?.[1] === path);
	if (hasLine) return null;
	return text === "" || text.endsWith("\n")
		? `${text}${lfsLineOf(path)}`
		: `${text}\n${lfsLineOf(path)}`;
}

const gitLabFile = z.looseObject({ content: z.string(), last_commit_id: z.string() });

/**
 * Rewrites `.gitattributes` on `ref` with `change` applied to its text (null: leave it), creating it
 * when `createWith` is given and there is none. Sent with its last_commit_id: a concurrent edit is 409.
 */
export async function editGitAttributes(
	hub: HubApi,
	id: number,
	ref: string,
	change: (text: string) => string | null,
	createWith?: string,
): Promise<void> {
	const current = await hub.call("GET", filePath(id, ".gitattributes"), {
		query: new URLSearchParams({ ref }),
	});
	if (current.status === 404) {
		if (createWith === undefined) return;
		await hub.ok("POST", filePath(id, ".gitattributes"), "Could not create .gitattributes", {
			json: {
				branch: ref,
				content: Buffer.from(createWith, "utf8").toString("base64"),
				encoding: "base64",
				commit_message: "Create .gitattributes",
			},
		});
		return;
	}
	const file = gitLabFile.safeParse(current.json);
	if (!file.success) return;
	const updated = change(Buffer.from(file.data.content, "base64").toString("utf8"));
	if (updated === null) return;
	await hub.ok("PUT", filePath(id, ".gitattributes"), "Could not update .gitattributes", {
		json: {
			branch: ref,
			content: Buffer.from(updated, "utf8").toString("base64"),
			encoding: "base64",
			commit_message: "Update .gitattributes",
			last_commit_id: file.data.last_commit_id,
		},
	});
}

/** Removes or renames the LFS lines of deleted or moved paths; nothing when none names them. */
export function keepGitAttributes(
	hub: HubApi,
	id: number,
	ref: string,
	change: { removed?: ReadonlySet<string>; renamed?: ReadonlyMap<string, string> },
): Promise<void> {
	return editGitAttributes(hub, id, ref, (text) => updatedGitAttributes(text, change));
}
