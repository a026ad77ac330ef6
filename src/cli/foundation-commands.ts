/** The service's own commands; each module declares its own in its descriptor. Code loads when one runs. */
import type { Command } from "../platform/modules.ts";

export const FOUNDATION_COMMANDS: readonly Command[] = [
	{
		name: "serve",
		summary: "Run the HTTP service (migrates the database first).",
		details: [
			"",
			"Listens on http.host:http.port (default 127.0.0.1:8080). SIGTERM or SIGINT: stop accepting,",
			"finish in-flight requests, close pools, exit 0.",
		],
		load: async () => (await import("./commands/serve.ts")).serve,
	},
	{
		name: "migrate",
		summary: "Apply pending database migrations and exit.",
		details: [
			"",
			"Safe to run while other instances start: migrations are serialised by a database lock.",
		],
		load: async () => (await import("./commands/migrate.ts")).migrate,
	},
	{
		name: "print-tables",
		summary: "Print every table's rows (one JSON object a line) and exit.",
		details: ["", "Byte columns (keys, blob data) are shown as their length only."],
		load: async () => (await import("./commands/print-tables.ts")).printTables,
	},
	{
		name: "keys show",
		summary: "Print the service's Ed25519 public key and the X25519 public key derived from it.",
		details: [
			"",
			"Lowercase hex, one per line, labelled. Creates the key on first use, as `serve` would.",
		],
		load: async () => (await import("./commands/keys-show.ts")).keysShow,
	},
	{
		name: "config check",
		summary: "Validate the configuration and print the effective values, secrets masked.",
		details: ["", "Exits 0 when valid; 2 with the offending keys named when not."],
		load: async () => (await import("./commands/config-check.ts")).configCheck,
	},
];
