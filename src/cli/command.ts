import type { Config } from "#config";

export interface Command {
	/** One or more words, e.g. `keys show`. */
	readonly name: string;
	readonly summary: string;
	/** Further lines for `tollgate <command> --help`. */
	readonly details: readonly string[];
	/** Names of the positional arguments the command requires, e.g. `["id"]`; none by default. */
	readonly arguments?: readonly string[];
	/** `--name VALUE` options of this command only, each with what its value is; no value: a `--flag`. */
	readonly options?: Readonly<
		Record<string, { readonly value?: string; readonly description: string }>
	>;
	/** Returns the process exit code. */
	run(
		config: Config,
		args: readonly string[],
		options: Readonly<Record<string, string | boolean | undefined>>,
	): Promise<number>;
}
