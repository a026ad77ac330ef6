/**
 * `tollgate <command>`: parses arguments with node:util parseArgs and runs the command's code, loaded only
 * then, so `--help` and usage errors answer without loading the service. Exit codes: 0 done, 1 failed while
 * running, 2 usage or configuration error (with a one-line reason).
 */
import { parseArgs } from "node:util";
import type { Command, CommandContext } from "../platform/modules.ts";
import { MODULES } from "../platform/modules.ts";
import { FOUNDATION_COMMANDS } from "./foundation-commands.ts";

const COMMANDS: readonly Command[] = [
	...FOUNDATION_COMMANDS,
	...MODULES.flatMap((module) => module.commands),
];

function overview(): string {
	const width = Math.max(...COMMANDS.map((command) => command.name.length));
	return [
		"Usage: tollgate <command> [--config PATH]",
		"",
		"Commands:",
		...COMMANDS.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
		"",
		"Options:",
		"  --config PATH  tollgate.toml to read (default: $TOLLGATE_CONFIG, else ./tollgate.toml if present)",
		"  --help         show help for tollgate or for a command",
		"",
		"Every config key can be set as TOLLGATE_<SECTION>_<KEY>; see docs/config.md.",
	].join("\n");
}

const valueUsage = (option: { readonly value?: string }) =>
	option.value === undefined ? "" : ` ${option.value}`;

function commandHelp(command: Command): string {
	const operands = (command.arguments ?? []).map((name) => ` <${name}>`).join("");
	const options = Object.entries(command.options ?? {});
	const optionUsage = options.map(([name, option]) => ` [--${name}${valueUsage(option)}]`).join("");
	return [
		`Usage: tollgate ${command.name}${operands}${optionUsage} [--config PATH]`,
		"",
		command.summary,
		...command.details,
		...(options.length === 0
			? []
			: [
					"",
					"Options:",
					...options.map(
						([name, option]) => `  --${name}${valueUsage(option)}  ${option.description}`,
					),
				]),
	].join("\n");
}

function findCommand(positionals: readonly string[]): {
	command: Command | undefined;
	rest: string[];
} {
	for (const command of COMMANDS) {
		const words = command.name.split(" ");
		if (words.every((word, index) => positionals[index] === word)) {
			return { command, rest: positionals.slice(words.length) };
		}
	}
	return { command: undefined, rest: [...positionals] };
}

const GLOBAL_OPTIONS = {
	config: { type: "string" },
	help: { type: "boolean", short: "h" },
} as const;

/** Every command's own options are parsed too; each is then accepted only by its command. */
const COMMAND_OPTIONS = Object.fromEntries(
	COMMANDS.flatMap((command) =>
		Object.entries(command.options ?? {}).map(([name, option]) => [
			name,
			{ type: option.value === undefined ? "boolean" : "string" } as const,
		]),
	),
);

function parseGlobalArgs(argv: readonly string[]) {
	return parseArgs({
		args: [...argv],
		options: { ...COMMAND_OPTIONS, ...GLOBAL_OPTIONS },
		allowPositionals: true,
		strict: true,
	});
}

/** Levenshtein distance, for "did you mean" (names are short: the quadratic table is nothing). */
function editDistance(a: string, b: string): number {
	let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
	for (let i = 1; i <= a.length; i += 1) {
		const current = [i];
		for (let j = 1; j <= b.length; j += 1)
			current[j] = Math.min(
				(previous[j] ?? 0) + 1,
				(current[j - 1] ?? 0) + 1,
				(previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
			);
		previous = current;
	}
	return previous[b.length] ?? Number.POSITIVE_INFINITY;
}

/** The closest of `candidates` to `word`, when one is close enough to be a typo of it. */
function closest(word: string, candidates: readonly string[]): string | undefined {
	const ranked = candidates
		.map((candidate) => ({ candidate, distance: editDistance(word, candidate) }))
		.sort((a, b) => a.distance - b.distance);
	const best = ranked[0];
	return best !== undefined && best.distance <= Math.max(1, Math.ceil(word.length / 3))
		? best.candidate
		: undefined;
}

/** parseArgs' message for an unknown option, made short: what was wrong and what was probably meant. */
function unknownOptionReason(error: unknown): string {
	const message = error instanceof Error ? error.message : String(error);
	const option = /Unknown option '(-{1,2}[^']+)'/.exec(message)?.[1];
	if (option === undefined) return message.split(". ")[0] ?? message;
	const known = [...Object.keys(GLOBAL_OPTIONS), ...Object.keys(COMMAND_OPTIONS)];
	const suggestion = closest(option.replace(/^-+/, ""), known);
	const name = option.replace(/^-+/, "");
	return suggestion === undefined
		? `unknown option '${option}'; config keys are set in tollgate.toml or as TOLLGATE_<SECTION>_<KEY>, e.g. TOLLGATE_${name.toUpperCase().replaceAll("-", "_")} (docs/config.md)`
		: `unknown option '${option}'; did you mean '--${suggestion}'?`;
}

/** The commands whose names start with these words (`keys` → `keys show`). */
function commandsUnder(words: readonly string[]): Command[] {
	return COMMANDS.filter((command) => {
		const name = command.name.split(" ");
		return name.length > words.length && words.every((word, index) => name[index] === word);
	});
}

function groupUsage(words: readonly string[], commands: readonly Command[]): string {
	const width = Math.max(...commands.map((command) => command.name.length));
	return [
		`Usage: tollgate ${words.join(" ")} <${[...new Set(commands.map((command) => command.name.split(" ")[words.length]))].join("|")}>`,
		"",
		...commands.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
	].join("\n");
}

export async function runCli(argv: readonly string[]): Promise<number> {
	let parsed: ReturnType<typeof parseGlobalArgs>;
	try {
		parsed = parseGlobalArgs(argv);
	} catch (error) {
		return usageFailure(unknownOptionReason(error));
	}
	const { values, positionals } = parsed;
	if (positionals.length === 0 && values.help !== true) {
		process.stderr.write(`${overview()}\n`);
		return 2;
	}
	if (positionals.length === 0 || positionals[0] === "help") {
		process.stdout.write(`${overview()}\n`);
		return 0;
	}
	const { command, rest } = findCommand(positionals);
	if (command === undefined) {
		const group = commandsUnder(positionals);
		if (group.length > 0) {
			process.stderr.write(`${groupUsage(positionals, group)}\n`);
			return 2;
		}
		const typed = positionals.join(" ");
		const suggestion = closest(
			typed,
			COMMANDS.map((candidate) => candidate.name),
		);
		return usageFailure(
			suggestion === undefined
				? `unknown command '${typed}'`
				: `unknown command '${typed}'; did you mean '${suggestion}'?`,
		);
	}
	if (values.help === true) {
		process.stdout.write(`${commandHelp(command)}\n`);
		return 0;
	}
	const commandOptions: Record<string, string | boolean | undefined> = {};
	for (const [name, value] of Object.entries(values)) {
		if (name in GLOBAL_OPTIONS) continue;
		if (!(name in (command.options ?? {})))
			return usageFailure(`'--${name}' is not an option of '${command.name}'`);
		commandOptions[name] =
			typeof value === "string" || typeof value === "boolean" ? value : undefined;
	}
	const expected = command.arguments ?? [];
	if (rest.length > expected.length) {
		return usageFailure(`unexpected argument '${rest[expected.length]}' for '${command.name}'`);
	}
	if (rest.length < expected.length) {
		return usageFailure(`'${command.name}' needs <${expected[rest.length]}>`);
	}
	const [{ ConfigError }, { loadConfig }, { commandContext }, run] = await Promise.all([
		import("#config"),
		import("../platform/config.ts"),
		import("./command-context.ts"),
		command.load(),
	]);
	let context: CommandContext & { close(): Promise<void> };
	try {
		context = commandContext(
			loadConfig({
				configPath: values.config,
				...(command.configFrom === undefined
					? {}
					: { overrides: command.configFrom(commandOptions) }),
			}),
		);
	} catch (error) {
		if (error instanceof ConfigError) {
			process.stderr.write(
				`tollgate: invalid configuration\n${error.problems.map((line) => `  ${line}`).join("\n")}\n`,
			);
			return 2;
		}
		throw error;
	}
	try {
		return await run(context, rest, commandOptions);
	} finally {
		await context.close();
	}
}

function usageFailure(reason: string): number {
	process.stderr.write(`tollgate: ${reason} (see 'tollgate --help')\n`);
	return 2;
}
