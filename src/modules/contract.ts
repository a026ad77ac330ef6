/**
 * The module contract (docs/architecture.md). A module is one folder under src/modules/ behind one index.ts
 * that exports a ModuleDescriptor: its config section, migrations and CLI commands, which are light to load,
 * and `load()`, which brings in the rest only when the module is switched on. Started, a module gets a
 * ModuleContext and registers its routes (raw hot routes and onion-reachable ones included), jobs and
 * metrics through it, and may hand other modules a service. Nothing outside the folder changes but the
 * one entry in src/modules/index.ts.
 */
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { z } from "zod";
import type { FoundationConfig } from "#config";
import type { Clock } from "#lib/clock";
import type { X25519KeyPair } from "#lib/ed25519";
import type { RawRoutes } from "../http/raw-routes.ts";
import type { JobDefinition } from "../jobs/job-runner.ts";
import type { ServiceKeys } from "../keys/service-keys.ts";
import type { SecretStore, Storage } from "../storage/index.ts";

/**
 * What modules hand each other, by module name. A module that offers a service adds its entry here from
 * its own index.ts (`declare module "../contract.ts"`); one that uses it reads `context.services`.
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled by declaration merging, one entry per module.
export interface ModuleServices {}

export interface ModuleContext<Section> {
	/** The module's own config section, validated. */
	readonly section: Section;
	/** The service-wide settings (dev mode, data directory, HTTP, logging…). */
	readonly config: FoundationConfig;
	/** The app to register routes on; register them in a plugin of the module's own. */
	readonly app: FastifyInstance;
	/** Hot paths answered on node:http ahead of Fastify; each keeps a documented Fastify twin. */
	readonly rawRoutes: RawRoutes;
	readonly storage: Storage;
	readonly keys: ServiceKeys;
	readonly clock: Clock;
	readonly logger: Logger;
	/** The metrics registry served at /metrics. */
	readonly registry: Registry;
	/** Hands a background job to the leased runner (once per cluster). */
	registerJob(job: JobDefinition): void;
	/**
	 * Lets onion requests be encrypted to one more X25519 key, after the service's own: for a module whose
	 * clients pin a key of their own (an imported backend's).
	 */
	acceptOnionKey(key: X25519KeyPair): void;
	/** Services of the modules started before this one (see `dependsOn`). */
	readonly services: Partial<ModuleServices>;
}

export interface ModuleImplementation<Section> {
	/**
	 * Registers the module's routes, raw routes, jobs and metrics, and returns its service entry for
	 * modules that depend on it (none for most).
	 */
	register(context: ModuleContext<Section>): Promise<Partial<ModuleServices>>;
}

/** What a module's CLI command is given: its section, the service settings, and storage on demand. */
export interface ModuleCommandContext<Section> {
	readonly section: Section;
	readonly config: FoundationConfig;
	/** Writes to stderr: a command's stdout is its result. */
	readonly logger: Logger;
	/** The configured storage, migrated as `serve` would; closed when the command ends. */
	storage(): Promise<Storage>;
	/** The secrets kept in the database (the SQL database alone is opened for them). */
	secrets(): Promise<SecretStore>;
	/** The service keys as `serve` loads them (created on first use). */
	keys(): Promise<ServiceKeys>;
}

export interface CommandOption {
	/** What the value is (`1m|3m|1y`); none: a flag without a value. */
	readonly value?: string;
	readonly description: string;
}

export type CommandOptions = Readonly<Record<string, string | boolean | undefined>>;

/** A CLI command: described up front (for --help), its code loaded only when it runs. */
export interface CommandSpec<Context> {
	/** One or more words, e.g. `files check`. */
	readonly name: string;
	readonly summary: string;
	/** Further lines for `tollgate <command> --help`. */
	readonly details: readonly string[];
	/** Names of the positional arguments the command requires, e.g. `["id"]`; none by default. */
	readonly arguments?: readonly string[];
	readonly options?: Readonly<Record<string, CommandOption>>;
	/** Returns the command's code; it returns the process exit code. */
	load(): Promise<
		(context: Context, args: readonly string[], options: CommandOptions) => Promise<number>
	>;
}

/** A problem a module finds in its section that the section's schema alone cannot see. */
export interface ConfigIssue {
	/** Below the module's section, e.g. `["secret"]`. */
	readonly path: readonly string[];
	readonly message: string;
}

export interface ModuleDescriptor<
	Name extends string = string,
	Section extends z.ZodType = z.ZodType,
> {
	/** Also the config section's name (`[files]`) and the prefix of its environment variables. */
	readonly name: Name;
	readonly configSection: Section;
	/** Checks across the section and the service settings (e.g. a secret required outside dev mode). */
	checkConfig?(section: z.output<Section>, config: FoundationConfig): ConfigIssue[];
	isEnabled(section: z.output<Section>): boolean;
	/** Modules whose services this one uses; they are started first. */
	readonly dependsOn?: readonly (keyof ModuleServices)[];
	/**
	 * The module's migrations, relative to the package root: `<dir>/sqlite/NNNN_<what>.sql` and
	 * `<dir>/postgres/…`, numbered in the one sequence every module shares (docs/adr/0002).
	 */
	readonly migrationsDir?: string;
	readonly commands?: readonly CommandSpec<ModuleCommandContext<z.output<Section>>>[];
	load(): Promise<ModuleImplementation<z.output<Section>>>;
}

/**
 * A module command's answer to bad arguments: the reason as the only line, exit status 2. Usage problems
 * are found before the database or a key is touched.
 */
export function usageFailure(reason: string): number {
	process.stderr.write(`tollgate: ${reason}\n`);
	return 2;
}

/** Declares a module, keeping its name and section types for the config schema built from it. */
export function defineModule<const Name extends string, Section extends z.ZodType>(
	descriptor: ModuleDescriptor<Name, Section>,
): ModuleDescriptor<Name, Section> {
	return descriptor;
}
