import type { CommandContext } from "../../platform/modules.ts";

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

export async function keysShow(context: CommandContext): Promise<number> {
	const keys = await context.keys();
	process.stdout.write(
		`ed25519: ${hex(keys.ed25519.publicKey)}\nx25519: ${hex(keys.x25519.publicKey)}\n${
			keys.legacyX25519 === undefined ? "" : `x25519_legacy: ${hex(keys.legacyX25519.publicKey)}\n`
		}`,
	);
	return 0;
}
