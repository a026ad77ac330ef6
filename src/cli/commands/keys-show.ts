import { systemClock } from "#lib/clock";
import { loadConfiguredServiceKeys } from "../../keys/service-keys.ts";
import type { Command } from "../command.ts";
import { createCliLogger } from "./cli-logger.ts";
import { withMigratedDatabase } from "./with-database.ts";

export const keysShowCommand: Command = {
	name: "keys show",
	summary: "Print the service's Ed25519 public key and the X25519 public key derived from it.",
	details: [
		"",
		"Lowercase hex, one per line, labelled. Creates the key on first use, as `serve` would.",
	],
	run: (config) =>
		withMigratedDatabase(config, async (database) => {
			const keys = await loadConfiguredServiceKeys(
				config,
				database.db,
				systemClock,
				createCliLogger(config),
			);
			process.stdout.write(
				`ed25519: ${Buffer.from(keys.ed25519.publicKey).toString("hex")}\n` +
					`x25519: ${Buffer.from(keys.x25519.publicKey).toString("hex")}\n` +
					(keys.legacyX25519 === undefined
						? ""
						: `x25519_legacy: ${Buffer.from(keys.legacyX25519.publicKey).toString("hex")}\n`),
			);
			return 0;
		}),
};
