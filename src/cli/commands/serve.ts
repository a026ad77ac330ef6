import { createLogger } from "../../http/logger.ts";
import { serveUntilSignalled } from "../../main.ts";
import type { CommandContext } from "../../platform/modules.ts";

/** The service's log is its output, on stdout (one-shot commands log to stderr). */
export async function serve({ config }: CommandContext): Promise<number> {
	await serveUntilSignalled(config, createLogger(config));
	return 0;
}
