/**
 * The one configuration schema: the service-wide sections (src/config/schema.ts) and each module's own,
 * under the module's name, with the checks modules make across sections. docs/config.md, the environment
 * variables and `config check` all come from it.
 */
import { z } from "zod";
import {
	foundationShape,
	type LoadConfigOptions,
	loadConfigFrom,
	maskSecrets as maskSecretsOf,
} from "#config";
import { MODULES, type SectionedConfig } from "./modules.ts";

type Module = (typeof MODULES)[number];
type ModuleSections = { readonly [M in Module as M["name"]]: M["configSection"] };

/** `{ sessions: …, files: …, entitlements: … }`, each module's section under its name. */
function moduleSections(): ModuleSections {
	const sections: Record<string, z.ZodType> = {};
	for (const module of MODULES) sections[module.name] = module.configSection;
	// The record just built is the mapped type, key for key; TypeScript cannot follow the loop.
	return sections as ModuleSections;
}

export const configSchema = z
	.strictObject({ ...foundationShape, ...moduleSections() })
	.superRefine((config, context) => {
		for (const module of MODULES) {
			for (const issue of module.checkConfig(config))
				context.addIssue({
					code: "custom",
					path: [module.name, ...issue.path],
					message: issue.message,
				});
		}
	});

export type Config = z.output<typeof configSchema>;

/** tollgate.toml and TOLLGATE_* variables, validated against the whole schema and frozen. */
export function loadConfig(options: LoadConfigOptions = {}): Config {
	return loadConfigFrom(configSchema, options);
}

/** The effective config with every secret replaced, for `tollgate config check`. */
export function maskSecrets(config: SectionedConfig): Record<string, unknown> {
	return maskSecretsOf(configSchema, config);
}
