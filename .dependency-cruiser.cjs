/**
 * The layering rules of docs/architecture.md, checked by `npm run check:layers` (part of `npm test`).
 * Layers, lowest first: lib; errors; config; storage; http, jobs, keys, transports; modules (each behind
 * its index.ts); platform (the composition root); cli and main.ts.
 */
const BASE_LAYERS = "^src/(lib|errors|config|storage|http|jobs|keys|transports)/";

module.exports = {
	forbidden: [
		{
			name: "storage-imports-no-module",
			comment: "src/storage holds engines and generic ports only: it knows no module.",
			severity: "error",
			from: { path: "^src/storage/" },
			to: { path: "^src/(modules|platform|cli|http|transports|jobs|keys)/" },
		},
		{
			name: "base-layers-import-no-module",
			comment: "http, errors, lib (and every layer below the modules) import no module.",
			severity: "error",
			from: { path: BASE_LAYERS },
			to: { path: "^src/(modules|platform|cli)/|^src/main\\.ts$" },
		},
		{
			name: "lib-imports-nothing-of-ours",
			comment: "src/lib is pure: it imports no other part of src.",
			severity: "error",
			from: { path: "^src/lib/" },
			to: { path: "^src/", pathNot: "^src/lib/" },
		},
		{
			name: "module-imports-another-only-through-its-index",
			comment: "A module reaches another module only through that module's index.ts.",
			severity: "error",
			from: { path: "^src/modules/([^/]+)/" },
			to: {
				path: "^src/modules/[^/]+/",
				pathNot: ["^src/modules/$1/", "^src/modules/[^/]+/index\\.ts$"],
			},
		},
		{
			name: "outside-code-reaches-a-module-only-through-its-index",
			comment: "The platform and the CLI see a module only through its index.ts (its descriptor).",
			severity: "error",
			from: { path: "^src/", pathNot: ["^src/modules/", "\\.test\\.ts$"] },
			to: { path: "^src/modules/[^/]+/", pathNot: "^src/modules/[^/]+/index\\.ts$" },
		},
		{
			name: "storage-reached-only-through-its-index",
			comment: "Outside src/storage, its engines are reached through src/storage/index.ts.",
			severity: "error",
			from: { path: "^src/", pathNot: "^src/storage/" },
			to: { path: "^src/storage/", pathNot: "^src/storage/index\\.ts$" },
		},
		{
			name: "modules-import-no-platform",
			comment: "Modules are started by the platform; they never import it (nor the CLI).",
			severity: "error",
			from: { path: "^src/modules/" },
			to: { path: "^src/(platform|cli)/|^src/main\\.ts$" },
		},
		{
			name: "no-folder-cycles",
			comment: "Folders form a hierarchy: no folder depends on itself through others.",
			severity: "error",
			scope: "folder",
			from: { path: "^src/" },
			to: { circular: true },
		},
		{
			name: "no-file-cycles",
			comment: "No file imports itself through others at run time (type-only imports aside).",
			severity: "error",
			from: { path: "^src/" },
			to: { circular: true, viaOnly: { dependencyTypesNot: ["type-only"] } },
		},
	],
	options: {
		parser: "swc",
		tsPreCompilationDeps: true,
		doNotFollow: { path: "node_modules" },
		exclude: { path: ["node_modules", "\\.test\\.ts$"] },
		tsConfig: { fileName: "tsconfig.json" },
		enhancedResolveOptions: {
			conditionNames: ["import", "node", "default"],
			extensions: [".ts", ".js"],
		},
	},
};
