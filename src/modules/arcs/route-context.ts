/** What every arcs route plugin and job is given when the module starts (module.ts builds it once). */
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { Clock } from "#lib/clock";
import type { ConnectService } from "#modules/connect";
import type { Storage } from "../../storage/index.ts";
import type { ArcsConfig } from "./config.ts";

export interface ArcsContext {
	readonly connect: ConnectService;
	readonly section: ArcsConfig;
	readonly storage: Storage;
	readonly clock: Clock;
	readonly logger: Logger;
	readonly registry: Registry;
}
