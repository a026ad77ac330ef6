/** The sessions module's operator commands (described in index.ts, loaded when one runs). */
import { type CommandOptions, type ModuleCommandContext, usageFailure } from "../contract.ts";
import { createAppApiKey } from "./app-api-key.ts";
import type { SessionsConfig } from "./config.ts";
import { resolveSessionsSecret } from "./secret.ts";
import { SqlAppApiKeyStore } from "./storage/sql-app-api-key-store.ts";

type Context = ModuleCommandContext<SessionsConfig>;

const MAX_LABEL_CHARS = 200;
/** Printable, one line: labels are shown in `keys list` output, one key a line. */
const LABEL_SHAPE = /^[\x20-\x7e]+$/;

export async function printSecret(context: Context): Promise<number> {
	const secret = await resolveSessionsSecret(
		context.section,
		context.config.dev,
		await context.secrets(),
		Date.now(),
	);
	process.stdout.write(`${secret}\n`);
	return 0;
}

async function appApiKeys(context: Context): Promise<SqlAppApiKeyStore> {
	return new SqlAppApiKeyStore((await context.storage()).sql.db);
}

export async function addKey(
	context: Context,
	_args: readonly string[],
	options: CommandOptions,
): Promise<number> {
	const label = typeof options.label === "string" ? options.label : null;
	if (label !== null && !(LABEL_SHAPE.test(label) && label.length <= MAX_LABEL_CHARS))
		return usageFailure(`--label: 1 to ${MAX_LABEL_CHARS} printable ASCII characters`);
	const { key, stored } = createAppApiKey(label, Date.now());
	await (await appApiKeys(context)).insert(stored);
	process.stdout.write(`id: ${stored.id}\nkey: ${key}\n`);
	return 0;
}

export async function listKeys(context: Context): Promise<number> {
	for (const stored of await (await appApiKeys(context)).list()) {
		const shown = {
			id: stored.id,
			label: stored.label,
			created_at: new Date(stored.createdAtMs).toISOString(),
		};
		process.stdout.write(`${JSON.stringify(shown)}\n`);
	}
	return 0;
}

export async function removeKey(context: Context, [id = ""]: readonly string[]): Promise<number> {
	if (!(await (await appApiKeys(context)).remove(id))) {
		process.stderr.write(`tollgate: no stored app API key ${id}\n`);
		return 1;
	}
	process.stdout.write(`removed: ${id}\n`);
	return 0;
}
