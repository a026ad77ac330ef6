export { type ConfigField, listConfigFields } from "./fields.ts";
export {
	CONFIG_PATH_ENV,
	ConfigError,
	type LoadConfigOptions,
	loadConfig,
	maskSecrets,
} from "./load.ts";
export { type Config, configSchema } from "./schema.ts";
