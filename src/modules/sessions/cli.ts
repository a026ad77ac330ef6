/** The sessions module's operator command (described in index.ts, loaded when it runs). */
import type { ModuleCommandContext } from "../contract.ts";
import type { SessionsConfig } from "./config.ts";
import { resolveSessionsSecret } from "./secret.ts";

export async function printSecret(context: ModuleCommandContext<SessionsConfig>): Promise<number> {
	const secret = await resolveSessionsSecret(
		context.section,
		context.config.dev,
		await context.secrets(),
		Date.now(),
	);
	process.stdout.write(`${secret}\n`);
	return 0;
}
