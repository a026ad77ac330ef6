import { pino } from "pino";
import type { Config } from "#config";
import { createLogger } from "../../http/logger.ts";

/** One-shot commands print their result on stdout; their logs go to stderr. */
export function createCliLogger(config: Config) {
	return createLogger(config, pino.destination(2));
}
