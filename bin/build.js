// The TypeScript sources compiled for Node by esbuild into dist/: one entry (dist/cli.mjs) and content-named
// chunks, split at every dynamic import so a command loads only its own code (`tollgate --help` loads no
// module's runtime). `npm install` builds (the prepare script); `bin/tollgate.js` builds again first when a
// source file changed since, so there is still no build step to remember. Builds may run at once (test
// suites start many processes): chunks are written under their content hash and the entry and the record of
// its inputs are each replaced in one rename, so a reader sees one whole build or the other.
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const DIST = join(ROOT, "dist");
export const ENTRY = join(DIST, "cli.mjs");
const RECORD = join(DIST, "build.json");
/** Chunks of earlier builds stay this long: a process started from one may still import them lazily. */
const OLD_CHUNKS_KEPT_MS = 24 * 3_600_000;

async function writeAtomically(path, contents) {
	const temporary = `${path}.${randomUUID()}.tmp`;
	await writeFile(temporary, contents);
	await rename(temporary, path);
}

/** Whether dist/ holds a build of the sources as they are now (every input unchanged since). */
export async function isBuildCurrent() {
	let record;
	try {
		record = JSON.parse(await readFile(RECORD, "utf8"));
	} catch {
		return false;
	}
	if (!existsSync(ENTRY)) return false;
	for (const [path, mtimeMs] of Object.entries(record.inputs)) {
		const info = await stat(join(ROOT, path)).catch(() => null);
		if (info?.mtimeMs !== mtimeMs) return false;
	}
	return true;
}

const PAGES_SOURCE = join(ROOT, "web", "identity");
export const PAGES = join(DIST, "web", "identity");
const PAGES_RECORD = join(PAGES, "build.json");

async function pageInputs(dir = PAGES_SOURCE) {
	const inputs = {};
	for (const entry of await readdir(dir, { withFileTypes: true })) {
		const path = join(dir, entry.name);
		if (entry.isDirectory()) Object.assign(inputs, await pageInputs(path));
		else inputs[relative(ROOT, path)] = (await stat(path)).mtimeMs;
	}
	return inputs;
}

async function arePagesCurrent() {
	let record;
	try {
		record = JSON.parse(await readFile(PAGES_RECORD, "utf8"));
	} catch {
		return false;
	}
	return JSON.stringify(record.inputs) === JSON.stringify(await pageInputs());
}

/**
 * The identity pages (web/identity) built by Vite into dist/web/identity: hashed assets first, then each
 * page's HTML in one rename, so a server reading them sees one whole build.
 */
export async function buildPages() {
	const inputs = await pageInputs();
	const vite = await import("vite");
	const built = await vite.build({
		configFile: false,
		root: PAGES_SOURCE,
		base: "./",
		logLevel: "silent",
		publicDir: false,
		build: {
			write: false,
			target: "es2022",
			modulePreload: { polyfill: false },
			// The pages' CSP allows no data: URLs: assets stay files.
			assetsInlineLimit: 0,
			// Every page in web/identity is an entry: the server decides which it serves.
			rollupOptions: {
				input: (await readdir(PAGES_SOURCE))
					.filter((name) => name.endsWith(".html"))
					.map((name) => join(PAGES_SOURCE, name)),
			},
		},
	});
	const files = (Array.isArray(built) ? built : [built]).flatMap((result) => result.output);
	await mkdir(join(PAGES, "assets"), { recursive: true });
	const pages = files.filter((file) => file.fileName.endsWith(".html"));
	for (const file of files) {
		const path = join(PAGES, file.fileName);
		if (pages.includes(file) || existsSync(path)) continue;
		await writeAtomically(path, file.type === "chunk" ? file.code : file.source);
	}
	for (const file of pages) await writeAtomically(join(PAGES, file.fileName), file.source);
	await writeAtomically(PAGES_RECORD, `${JSON.stringify({ inputs }, null, "\t")}\n`);
}

export async function build() {
	const esbuild = await import("esbuild");
	const result = await esbuild.build({
		absWorkingDir: ROOT,
		entryPoints: { cli: "src/cli/index.ts" },
		bundle: true,
		splitting: true,
		format: "esm",
		platform: "node",
		target: "node20.19",
		packages: "external",
		outdir: DIST,
		outExtension: { ".js": ".mjs" },
		chunkNames: "chunks/[name]-[hash]",
		sourcemap: "linked",
		metafile: true,
		write: false,
		logLevel: "silent",
	});
	await mkdir(join(DIST, "chunks"), { recursive: true });
	const entry = result.outputFiles.filter(
		(file) => file.path === ENTRY || file.path === `${ENTRY}.map`,
	);
	for (const file of result.outputFiles) {
		if (entry.includes(file) || existsSync(file.path)) continue;
		await writeAtomically(file.path, file.contents);
	}
	for (const file of entry) await writeAtomically(file.path, file.contents);
	const inputs = {};
	for (const path of [...Object.keys(result.metafile.inputs), "package.json"]) {
		inputs[path] = (await stat(join(ROOT, path))).mtimeMs;
	}
	await writeAtomically(RECORD, `${JSON.stringify({ inputs }, null, "\t")}\n`);
	await removeOldChunks(
		new Set(Object.keys(result.metafile.outputs).map((path) => join(ROOT, path))),
	);
}

async function removeOldChunks(current) {
	const dir = join(DIST, "chunks");
	const now = Date.now();
	for (const name of await readdir(dir)) {
		const path = join(dir, name);
		if (current.has(path)) continue;
		const info = await stat(path).catch(() => null);
		if (info !== null && now - info.mtimeMs > OLD_CHUNKS_KEPT_MS) await rm(path, { force: true });
	}
}

export async function ensureBuilt() {
	if (!(await isBuildCurrent())) await build();
	if (!(await arePagesCurrent())) await buildPages();
	return ENTRY;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
	await build();
	await buildPages();
	process.stdout.write(`built ${relative(ROOT, ENTRY)} and ${relative(ROOT, PAGES)}\n`);
}
