/**
 * The process: the service started from config, until SIGTERM or SIGINT; then a graceful stop (jobs,
 * in-flight requests, pools) within `http.shutdown_timeout_ms`, or exit 1.
 */
import type { Logger } from "pino";
import type { SectionedConfig } from "./platform/modules.ts";
import { startService } from "./platform/service.ts";

export async function serveUntilSignalled(config: SectionedConfig, logger: Logger): Promise<void> {
	const service = await startService(config, { logger });
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
