/** `npm run docs:gen` writes the generated docs; `--check` exits 1 when a committed copy is stale. */
import { readFile, writeFile } from "node:fs/promises";
import { GENERATED_DOCS } from "./docs.ts";

const isCheck = process.argv.includes("--check");
let isStale = false;
for (const [path, render] of Object.entries(GENERATED_DOCS)) {
	const expected = render();
	const actual = await readFile(path, "utf8").catch(() => "");
	if (actual === expected) continue;
	if (isCheck) {
		isStale = true;
		console.error(`${path} is stale: run npm run docs:gen`);
	} else {
		await writeFile(path, expected);
		console.log(`wrote ${path}`);
	}
}
process.exitCode = isStale ? 1 : 0;
