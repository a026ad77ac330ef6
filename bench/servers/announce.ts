/** How a bench server tells bench/run.ts its port: one `listening <port>` line on stdout. */
import type { Server } from "node:http";

/**
 * Listens on loopback at the port given as the first argument (0: any free one) and announces it. A
 * signal ends the process through exit, so `node --cpu-prof` writes its profile.
 */
export function listenAndAnnounce(server: Server): void {
	for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => process.exit(0));
	server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
		const address = server.address();
		process.stdout.write(
			`listening ${typeof address === "object" && address !== null ? address.port : ""}\n`,
		);
	});
}
