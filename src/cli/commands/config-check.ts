import { maskSecrets } from "../../platform/config.ts";
import type { CommandContext } from "../../platform/modules.ts";

export async function configCheck({ config }: CommandContext): Promise<number> {
	process.stdout.write(`${JSON.stringify(maskSecrets(config), null, 2)}\n`);
	return 0;
}
