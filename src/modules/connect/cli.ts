/** The connect module's operator commands (described in index.ts, loaded when one runs). */
import type { ModuleCommandContext } from "../contract.ts";
import type { ConnectConfig } from "./config.ts";
import { openVault } from "./module.ts";

type Context = ModuleCommandContext<ConnectConfig>;

const ROTATE_BATCH = 200;

export async function rotateKeys(context: Context): Promise<number> {
	const storage = await context.storage();
	const vault = openVault({
		section: context.section,
		config: context.config,
		sql: storage.sql,
		serviceKeys: await context.keys(),
		logger: context.logger,
	});
	const { resealed, unreadable } = await vault.rotate(ROTATE_BATCH);
	process.stdout.write(`re-encrypted: ${resealed}\n`);
	if (unreadable === 0) return 0;
	process.stderr.write(
		`tollgate: ${unreadable} sessions' tokens are sealed with a key connect.token_keys no longer holds; those users must log in again\n`,
	);
	return 1;
}
