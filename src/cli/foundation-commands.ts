/** The service's own commands; each module declares its own in its descriptor. Code loads when one runs. */
import type { Command } from "../platform/modules.ts";

export const FOUNDATION_COMMANDS: readonly Command[] = [
	{
		name: "serve",
		summary: "Run the HTTP service (migrates the database first).",
		details: [
			"",
			"Listens on http.host:http.port (default 127.0.0.1:8080). SIGTERM or SIGINT: stop accepting,",
			"finish in-flight requests, close pools, exit 0. Run it with node (node bin/tollgate.js serve)",
			"under a process manager: npm does not pass SIGTERM on.",
			"",
			"Exit codes: 0 stopped on a signal; 1 failed while running; 2 usage or configuration error;",
			"3 the database or Redis cannot be reached; 4 the PostgreSQL database does not exist;",
			"5 the port is in use or may not be bound.",
		],
		options: {
			port: { value: "PORT", description: "http.port (TOLLGATE_HTTP_PORT)" },
			host: { value: "HOST", description: "http.host (TOLLGATE_HTTP_HOST)" },
			"data-dir": { value: "DIR", description: "data_dir (TOLLGATE_DATA_DIR)" },
		},
		configFrom: (options) => {
			const { port, host } = options;
			const http = {
				// A port that is not a number is left as text, for the config check to name.
				...(typeof port === "string" ? { port: /^\d+$/.test(port) ? Number(port) : port } : {}),
				...(typeof host === "string" ? { host } : {}),
			};
			const dataDir = options["data-dir"];
			return {
				...(Object.keys(http).length > 0 ? { http } : {}),
				...(typeof dataDir === "string" ? { data_dir: dataDir } : {}),
			};
		},
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
