/**
 * Every module the service can run, in start order (a module comes after those it depends on). Adding a
 * module: its folder under src/modules/ and one entry here (docs/architecture.md).
 */
import type { Logger } from "pino";
import type { z } from "zod";
import type { FoundationConfig } from "#config";
import { arcsModule } from "#modules/arcs";
import { connectModule } from "#modules/connect";
import { entitlementsModule } from "#modules/entitlements";
import { filesModule } from "#modules/files";
import { identityModule } from "#modules/identity";
import { sessionsModule } from "#modules/sessions";
import type { ServiceKeys } from "../keys/service-keys.ts";
import type {
	CommandOption,
	CommandOptions,
	ConfigIssue,
	ModuleContext,
	ModuleDescriptor,
	ModuleServices,
} from "../modules/contract.ts";
import type { SecretStore, SqlDatabase, Storage } from "../storage/index.ts";

/** The loaded config seen by code that does not know every module: sections by module name. */
export type SectionedConfig = FoundationConfig & { readonly [section: string]: unknown };

/** What a CLI command is given; a module's commands get their section from it. */
export interface CommandContext {
	readonly config: SectionedConfig;
	readonly logger: Logger;
	/** The SQL database alone, migrated (for commands that need no other store). */
	database(): Promise<SqlDatabase>;
	storage(): Promise<Storage>;
	secrets(): Promise<SecretStore>;
	keys(): Promise<ServiceKeys>;
}

export type CommandRun = (
	context: CommandContext,
	args: readonly string[],
	options: CommandOptions,
) => Promise<number>;

/** A command as the CLI lists and runs it, whoever declared it. */
export interface Command {
	readonly name: string;
	readonly summary: string;
	readonly details: readonly string[];
	readonly arguments?: readonly string[];
	readonly options?: Readonly<Record<string, CommandOption>>;
	/** Config values the command's options stand for (`serve --port` is `http.port`). */
	configFrom?(
		options: Readonly<Record<string, string | boolean | undefined>>,
	): Record<string, unknown>;
	load(): Promise<CommandRun>;
}

/** A module as the service drives it: its descriptor, with its section picked out of the config. */
export interface PlatformModule<
	Name extends string = string,
	Section extends z.ZodType = z.ZodType,
> {
	readonly name: Name;
	readonly configSection: Section;
	readonly migrationsDir: string | undefined;
	readonly dependsOn: readonly string[];
	readonly commands: readonly Command[];
	isEnabled(config: SectionedConfig): boolean;
	checkConfig(config: SectionedConfig): readonly ConfigIssue[];
	start(
		context: Omit<ModuleContext<unknown>, "section">,
		config: SectionedConfig,
	): Promise<Partial<ModuleServices>>;
}

function platformModule<const Name extends string, Section extends z.ZodType>(
	descriptor: ModuleDescriptor<Name, Section>,
): PlatformModule<Name, Section> {
	// The config schema parsed this key with this module's own section schema (platform/config.ts).
	const sectionOf = (config: SectionedConfig) => config[descriptor.name] as z.output<Section>;
	return {
		name: descriptor.name,
		configSection: descriptor.configSection,
		migrationsDir: descriptor.migrationsDir,
		dependsOn: descriptor.dependsOn ?? [],
		commands: (descriptor.commands ?? []).map((command) => ({
			...command,
			load: async () => {
				const run = await command.load();
				return (context, args, options) =>
					run({ ...context, section: sectionOf(context.config) }, args, options);
			},
		})),
		isEnabled: (config) => descriptor.isEnabled(sectionOf(config)),
		checkConfig: (config) => descriptor.checkConfig?.(sectionOf(config), config) ?? [],
		start: async (context, config) =>
			(await descriptor.load()).register({ ...context, section: sectionOf(config) }),
	};
}

export const MODULES = [
	platformModule(sessionsModule),
	platformModule(filesModule),
	platformModule(entitlementsModule),
	platformModule(identityModule),
	platformModule(connectModule),
	platformModule(arcsModule),
] as const;

/** Where every module's migrations are, for the migrator (all modules', enabled or not: one schema). */
export const MODULE_MIGRATION_DIRS: readonly string[] = MODULES.flatMap((module) =>
	module.migrationsDir === undefined ? [] : [module.migrationsDir],
);
