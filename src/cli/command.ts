import type { Config } from "#config";

export interface Command {
	/** One or more words, e.g. `keys show`. */
	readonly name: string;
	readonly summary: string;
	/** Further lines for `tollgate <command> --help`. */
	readonly details: readonly string[];
	/** Names of the positional arguments the command requires, e.g. `["id"]`; none by default. */
	readonly arguments?: readonly string[];
	/** Returns the process exit code. */
	run(config: Config, args: readonly string[]): Promise<number>;
}
