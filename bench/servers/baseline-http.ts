/** The baseline: raw node:http answering a small JSON body, the ceiling a Node service can reach. */
import { createServer } from "node:http";

const body = JSON.stringify({ status: "ok" });
const server = createServer((_request, response) => {
	response.writeHead(200, {
		"content-type": "application/json",
		"content-length": Buffer.byteLength(body),
	});
	response.end(body);
});
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
	const address = server.address();
	process.stdout.write(
		`listening ${typeof address === "object" && address !== null ? address.port : ""}\n`,
	);
});
