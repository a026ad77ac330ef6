import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The directory holding package.json, wherever this code was loaded from (src/ under tsx, dist/chunks/ when
 * built): migrations and the built pages are found from it.
 */
export function packageRoot(): string {
	let directory = dirname(fileURLToPath(import.meta.url));
	while (!existsSync(join(directory, "package.json"))) {
		const parent = dirname(directory);
		if (parent === directory) throw new Error("package.json not found above Tollgate's code");
		directory = parent;
	}
	return directory;
}
