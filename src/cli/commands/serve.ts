import { createLogger } from "../../http/logger.ts";
import { serveUntilSignalled } from "../../main.ts";
import type { Command } from "../command.ts";

export const serveCommand: Command = {
	name: "serve",
	summary: "Run the HTTP service (migrates the database first).",
	details: [
		"",
		"Listens on http.host:http.port (default 127.0.0.1:8080). SIGTERM or SIGINT: stop accepting,",
		"finish in-flight requests, close pools, exit 0.",
	],
	run: async (config) => {
		await serveUntilSignalled(config, createLogger(config));
		return 0;
	},
};
