/**
 * Keeping `.gitattributes` in step when files go or move (specs/arcmanager.md §6.7): the LFS lines
 * `<path> filter=lfs diff=lfs merge=lfs[ -text]` of deleted paths are removed, of moved ones renamed.
 */

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
