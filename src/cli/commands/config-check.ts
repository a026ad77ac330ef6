import { maskSecrets } from "#config";
import type { Command } from "../command.ts";

export const configCheckCommand: Command = {
	name: "config check",
	summary: "Validate the configuration and print the effective values, secrets masked.",
	details: ["", "Exits 0 when valid; 2 with the offending keys named when not."],
	run: async (config) => {
		process.stdout.write(`${JSON.stringify(maskSecrets(config), null, 2)}\n`);
		return 0;
	},
};
