/** How a bench server tells bench/run.ts its port: one `listening <port>` line on stdout. */
import type { Server } from "node:http";

/** Listens on loopback at the port given as the first argument (0: any free one) and announces it. */
export function listenAndAnnounce(server: Server): void {
	server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
		const address = server.address();
		process.stdout.write(
			`listening ${typeof address === "object" && address !== null ? address.port : ""}\n`,
		);
	});
}
