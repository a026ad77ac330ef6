import { maskSecrets } from "../../platform/config.ts";
import type { CommandContext } from "../../platform/modules.ts";
import { describeDatabase, describeStores } from "../../storage/index.ts";

/** The config as JSON on stdout (for scripts); where its storage points, for people, on stderr. */
export async function configCheck({ config }: CommandContext): Promise<number> {
	process.stdout.write(`${JSON.stringify(maskSecrets(config), null, 2)}\n`);
	const { kv, blobs } = describeStores(config);
	process.stderr.write(
		`configuration is valid\n  database  ${describeDatabase(config)}\n  kv store  ${kv}\n  blobs     ${blobs}\n`,
	);
	return 0;
}
