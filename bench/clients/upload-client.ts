/**
 * The upload load: `connections` loops POSTing `size`-byte bodies to `url` for `seconds`, and prints
 * uploads/s, p50 and p99 as JSON. Every body shares one random tail; with "distinct" each starts with its
 * own tag, so each upload is new content (no dedupe) without building 10 MiB per request, which made wrk's
 * Lua the bottleneck.
 */
import { randomBytes } from "node:crypto";
import { Agent, request } from "node:http";

const [url = "", secondsText, sizeText, connectionsText, mode, runTag] = process.argv.slice(2);
const TAG_BYTES = 48;
const sizeBytes = Number(sizeText);
const connections = Number(connectionsText);
const isDistinct = mode === "distinct";
const tail = randomBytes(sizeBytes - TAG_BYTES);
const sameTag = Buffer.alloc(TAG_BYTES, "-");
const agent = new Agent({ keepAlive: true, maxSockets: connections });

let uploadCount = 0;
let non2xxCount = 0;

function tagOf(upload: number): Buffer {
	return isDistinct ? Buffer.from(`${runTag}:${upload}:`.padEnd(TAG_BYTES, "-")) : sameTag;
}

function upload(): Promise<void> {
	uploadCount += 1;
	const tag = tagOf(uploadCount);
	return new Promise((resolve, reject) => {
		const outgoing = request(
			url,
			{
				method: "POST",
				agent,
				headers: { "content-type": "application/octet-stream", "content-length": sizeBytes },
			},
			(response) => {
				if ((response.statusCode ?? 0) >= 300) non2xxCount += 1;
				response.resume();
				response.once("end", resolve);
			},
		);
		outgoing.once("error", reject);
		outgoing.write(tag);
		outgoing.end(tail);
	});
}

const durationsMs: number[] = [];
const deadline = performance.now() + Number(secondsText) * 1_000;
const startedAt = performance.now();
await Promise.all(
	Array.from({ length: connections }, async () => {
		while (performance.now() < deadline) {
			const uploadStartedAt = performance.now();
			await upload();
			durationsMs.push(performance.now() - uploadStartedAt);
		}
	}),
);
const elapsedSeconds = (performance.now() - startedAt) / 1_000;
agent.destroy();
durationsMs.sort((a, b) => a - b);
const percentile = (share: number) =>
	durationsMs[Math.min(durationsMs.length - 1, Math.floor(durationsMs.length * share))] ?? 0;
process.stdout.write(
	JSON.stringify({
		requestsPerSecond: durationsMs.length / elapsedSeconds,
		p50Ms: percentile(0.5),
		p99Ms: percentile(0.99),
		non2xx: non2xxCount,
	}),
);
