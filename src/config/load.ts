/**
 * Loads tollgate.toml, applies TOLLGATE_<SECTION>_<KEY> overrides, validates strictly against a schema
 * (the service's is composed in src/platform/config.ts) and freezes. Unknown keys and unknown TOLLGATE_*
 * variables are errors: a typo must stop start-up, not be ignored.
 */
import { existsSync, readFileSync } from "node:fs";
import { parse as parseToml } from "smol-toml";
import { z } from "zod";
import { type AnySchema, type ConfigField, listConfigFields } from "./fields.ts";

export const CONFIG_PATH_ENV = "TOLLGATE_CONFIG";
const DEFAULT_CONFIG_FILE = "tollgate.toml";

export class ConfigError extends Error {
	readonly problems: readonly string[];

	constructor(problems: readonly string[]) {
		super(`invalid configuration: ${problems.join("; ")}`);
		this.name = "ConfigError";
		this.problems = problems;
	}
}

export interface LoadConfigOptions {
	/** Path given with --config; wins over TOLLGATE_CONFIG. */
	readonly configPath?: string | undefined;
	readonly env?: NodeJS.ProcessEnv;
	/** Values laid over the file and the environment (tests, CLI flags). */
	readonly overrides?: Record<string, unknown>;
}

function readConfigFile(explicitPath: string | undefined): Record<string, unknown> {
	const path = explicitPath ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined);
	if (path === undefined) return {};
	let text: string;
	try {
		text = readFileSync(path, "utf8");
	} catch (error) {
		throw new ConfigError([`config file ${path}: cannot be read (${errorText(error)})`]);
	}
	try {
		return parseToml(text);
	} catch (error) {
		throw new ConfigError([`config file ${path}: not valid TOML (${errorText(error)})`]);
	}
}

function errorText(error: unknown): string {
	return error instanceof Error ? (error.message.split("\n")[0] ?? "") : String(error);
}

const TRUE_WORDS = new Set(["1", "true", "yes", "on"]);
const FALSE_WORDS = new Set(["0", "false", "no", "off"]);

/** Turns an environment string into the field's type; a value that does not fit is left for zod to name. */
function fromEnvString(field: ConfigField, raw: string): unknown {
	switch (field.kind) {
		case "boolean": {
			const word = raw.trim().toLowerCase();
			if (TRUE_WORDS.has(word)) return true;
			if (FALSE_WORDS.has(word)) return false;
			return raw;
		}
		case "number":
			return raw.trim() !== "" && Number.isFinite(Number(raw)) ? Number(raw) : raw;
		case "string list":
			return raw
				.split(",")
				.map((item) => item.trim())
				.filter((item) => item !== "");
		case "table list":
		case "table map":
			try {
				return JSON.parse(raw);
			} catch {
				return raw;
			}
		case "string":
		case "enum":
			return raw;
	}
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
	return typeof value === "object" && value !== null && !Array.isArray(value);
}

function setPath(
	target: Record<string, unknown>,
	segments: readonly string[],
	value: unknown,
): void {
	let node = target;
	for (const segment of segments.slice(0, -1)) {
		const child = node[segment];
		if (isPlainObject(child)) {
			node = child;
		} else {
			const created: Record<string, unknown> = {};
			node[segment] = created;
			node = created;
		}
	}
	const last = segments.at(-1);
	if (last !== undefined) node[last] = value;
}

function mergeDeep(base: Record<string, unknown>, over: Record<string, unknown>): void {
	for (const [key, value] of Object.entries(over)) {
		const existing = base[key];
		if (isPlainObject(existing) && isPlainObject(value)) mergeDeep(existing, value);
		else base[key] = value;
	}
}

function describeIssue(issue: z.core.$ZodIssue, envNameByPath: Map<string, string>): string[] {
	const path = issue.path.map(String).join(".");
	if (issue.code === "unrecognized_keys") {
		return issue.keys.map((key) => `${path === "" ? key : `${path}.${key}`}: unknown key`);
	}
	// A key inside a list of tables came from the variable that set the whole list.
	const source = issue.path
		.map((_, index) =>
			envNameByPath.get(
				issue.path
					.slice(0, index + 1)
					.map(String)
					.join("."),
			),
		)
		.findLast((name) => name !== undefined);
	const where = source === undefined ? "" : ` (from ${source})`;
	return [`${path === "" ? "(root)" : path}: ${issue.message}${where}`];
}

function deepFreeze<T>(value: T): T {
	if (typeof value === "object" && value !== null) {
		for (const child of Object.values(value)) deepFreeze(child);
		Object.freeze(value);
	}
	return value;
}

export function loadConfigFrom<Schema extends AnySchema>(
	schema: Schema,
	options: LoadConfigOptions = {},
): z.output<Schema> {
	const env = options.env ?? process.env;
	const raw = readConfigFile(options.configPath ?? env[CONFIG_PATH_ENV]);
	const fields = listConfigFields(schema);
	const fieldByEnvName = new Map(fields.map((field) => [field.envName, field]));
	const envNameByPath = new Map<string, string>();
	const problems: string[] = [];

	for (const [name, value] of Object.entries(env)) {
		if (!name.startsWith("TOLLGATE_") || name === CONFIG_PATH_ENV || value === undefined) continue;
		const field = fieldByEnvName.get(name);
		if (field === undefined) {
			problems.push(`${name}: unknown environment variable (no such config key)`);
			continue;
		}
		setPath(raw, field.segments, fromEnvString(field, value));
		envNameByPath.set(field.path, name);
	}
	if (options.overrides !== undefined) mergeDeep(raw, options.overrides);

	const parsed = z.safeParse(schema, raw);
	if (!parsed.success) {
		problems.push(...parsed.error.issues.flatMap((issue) => describeIssue(issue, envNameByPath)));
	}
	if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
	return deepFreeze(parsed.data);
}

/** The effective config with every secret replaced, for `tollgate config check`. */
export function maskSecrets(schema: AnySchema, config: object): Record<string, unknown> {
	const copy: Record<string, unknown> = structuredClone({ ...config });
	maskFields(listConfigFields(schema), copy);
	return copy;
}

function maskFields(fields: readonly ConfigField[], target: Record<string, unknown>): void {
	for (const field of fields) {
		if (!field.isSecret && field.itemFields.every((item) => !item.isSecret)) continue;
		let node: unknown = target;
		for (const segment of field.segments.slice(0, -1)) {
			node = isPlainObject(node) ? node[segment] : undefined;
		}
		const last = field.segments.at(-1);
		if (!isPlainObject(node) || last === undefined || node[last] === undefined) continue;
		const value = node[last];
		if (field.isSecret) {
			node[last] = maskSecretValue(value);
			continue;
		}
		// A table list's tables, or a table map's (by name).
		const tables = Array.isArray(value) ? value : isPlainObject(value) ? Object.values(value) : [];
		for (const table of tables) if (isPlainObject(table)) maskFields(field.itemFields, table);
	}
}

/**
 * A URL keeps its host so operators can see where it points; only its credentials are hidden. A list
 * shows how many it holds (an empty one stays `[]`, so "none set" is visible), an empty string stays "".
 */
function maskSecretValue(value: unknown): unknown {
	if (Array.isArray(value)) return value.map(maskSecretValue);
	if (value === "") return "";
	if (typeof value === "string" && URL.canParse(value)) {
		const url = new URL(value);
		if (url.password !== "") url.password = "***";
		return url.toString();
	}
	return "***";
}
