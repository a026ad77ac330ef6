/**
 * The process: the service started from config, until SIGTERM or SIGINT; then a graceful stop (jobs,
 * in-flight requests, pools) within `http.shutdown_timeout_ms`, or exit 1.
 */
import { resolve } from "node:path";
import type { Logger } from "pino";
import { isPrettyLog } from "./http/logger.ts";
import { MODULES, type SectionedConfig } from "./platform/modules.ts";
import { startService } from "./platform/service.ts";
import { describeDatabase, describeStores } from "./storage/index.ts";

/**
 * What is running and where, once it listens: a short banner for people (pretty logs), one log line of
 * the same facts for collectors.
 */
function announce(config: SectionedConfig, logger: Logger, url: string | undefined): void {
	const enabled = MODULES.filter((module) => module.isEnabled(config)).map((module) => module.name);
	const off = MODULES.filter((module) => !module.isEnabled(config)).map((module) => module.name);
	const { kv, blobs } = describeStores(config);
	const facts = {
		url,
		modules: enabled,
		data_dir: resolve(config.data_dir),
		database: describeDatabase(config),
		kv,
		blobs,
	};
	if (!isPrettyLog(config)) {
		logger.info(facts, "tollgate is serving");
		return;
	}
	const base = url ?? `http://${config.http.host}:${config.http.port}`;
	process.stdout.write(
		[
			"",
			`  Tollgate is serving at ${base}`,
			"",
			`  modules   ${enabled.join(", ") || "none"}${off.length === 0 ? "" : `   (off: ${off.join(", ")})`}`,
			`  data      ${facts.data_dir}`,
			`  database  ${facts.database}`,
			`  kv store  ${kv}`,
			`  blobs     ${blobs}`,
			`  API docs  ${base}/docs   (OpenAPI: ${base}/openapi.json)`,
			`  metrics   ${base}/metrics   health: ${base}/healthz, ${base}/readyz`,
			"  edge      nginx recipes in edge/ (edge/README.md)",
			"",
			"",
		].join("\n"),
	);
}

export async function serveUntilSignalled(config: SectionedConfig, logger: Logger): Promise<void> {
	const service = await startService(config, { logger });
	announce(config, logger, service.url);
	await new Promise<void>((resolve) => {
		const shutDown = (signal: NodeJS.Signals) => {
			logger.info({ signal }, "shutting down");
			const deadline = setTimeout(() => {
				logger.error("in-flight requests did not finish in time; exiting");
				process.exit(1);
			}, config.http.shutdown_timeout_ms);
			deadline.unref();
			service.stop().then(resolve, (error: unknown) => {
				logger.error({ err: error }, "shutdown failed");
				process.exit(1);
			});
		};
		process.once("SIGTERM", shutDown);
		process.once("SIGINT", shutDown);
	});
}
