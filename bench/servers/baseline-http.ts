/** The baseline: raw node:http answering a small JSON body, the ceiling a Node service can reach. */
import { createServer } from "node:http";
import { listenAndAnnounce } from "./announce.ts";

const body = JSON.stringify({ status: "ok" });
const server = createServer((_request, response) => {
	response.writeHead(200, {
		"content-type": "application/json",
		"content-length": Buffer.byteLength(body),
	});
	response.end(body);
});
listenAndAnnounce(server);
