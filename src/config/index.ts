export { type AnySchema, type ConfigField, envNameOf, listConfigFields } from "./fields.ts";
export {
	CONFIG_PATH_ENV,
	ConfigError,
	type LoadConfigOptions,
	loadConfigFrom,
	maskSecrets,
} from "./load.ts";
export { type FoundationConfig, foundationSchema, foundationShape } from "./schema.ts";
