import { createLogger } from "../../http/logger.ts";
import { serveUntilSignalled } from "../../main.ts";
import type { CommandContext } from "../../platform/modules.ts";
import { startupFailureOf } from "../startup-failure.ts";

/**
 * The service's log is its output, on stdout (one-shot commands log to stderr). A start-up stopped by the
 * environment (database, port) is one line on stderr and its exit code, not a stack trace.
 */
export async function serve({ config }: CommandContext): Promise<number> {
	try {
		await serveUntilSignalled(config, createLogger(config));
		return 0;
	} catch (error) {
		const failure = startupFailureOf(error, config);
		if (failure === null) throw error;
		process.stderr.write(`tollgate: ${failure.reason}\n`);
		return failure.exitCode;
	}
}
