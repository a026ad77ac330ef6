/**
 * Uploads stream to the blob store, never held whole: a real `tollgate serve` takes 20 concurrent 10 MiB
 * uploads (200 MiB in all) while its resident memory grows by less than 64 MiB.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ServingProcess, serveTollgate } from "../support/cli.ts";

const UPLOAD_BYTES = 10 * 1_048_576;
const CONCURRENT_UPLOADS = 20;
const CHUNK_BYTES = 64 * 1_024;
const MAX_RSS_GROWTH_BYTES = 64 * 1_048_576;

async function residentBytesOf(pid: number): Promise<number> {
	const status = await readFile(`/proc/${pid}/status`, "utf8");
	const kibibytes = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
	if (kibibytes === undefined) throw new Error(`no VmRSS for ${pid}`);
	return Number(kibibytes) * 1_024;
}

/** POSTs `totalBytes` of fresh random bytes, generated chunk by chunk as the socket drains. */
function streamUpload(url: string, totalBytes: number): Promise<{ status: number; body: string }> {
	return new Promise((resolve, reject) => {
		const outgoing = request(
			`${url}/file`,
			{
				method: "POST",
				headers: { "content-type": "application/octet-stream", "content-length": totalBytes },
			},
			(response) => {
				let body = "";
				response.setEncoding("utf8");
				response.on("data", (text: string) => {
					body += text;
				});
				response.once("end", () => resolve({ status: response.statusCode ?? 0, body }));
			},
		);
		outgoing.once("error", reject);
		let sentBytes = 0;
		const sendMore = () => {
			while (sentBytes < totalBytes) {
				const chunk = randomBytes(Math.min(CHUNK_BYTES, totalBytes - sentBytes));
				sentBytes += chunk.length;
				if (!outgoing.write(chunk)) {
					outgoing.once("drain", sendMore);
					return;
				}
			}
			outgoing.end();
		};
		sendMore();
	});
}

describe.skipIf(process.platform !== "linux")("upload memory (tollgate serve)", () => {
	let dataDir: string;
	let service: ServingProcess;

	beforeAll(async () => {
		dataDir = await mkdtemp(join(tmpdir(), "tollgate-memory-"));
		service = await serveTollgate({
			TOLLGATE_DATA_DIR: dataDir,
			TOLLGATE_FILES_MAX_FILE_SIZE_BYTES: String(UPLOAD_BYTES),
		});
	});
	afterAll(async () => {
		await service?.stop();
		await rm(dataDir, { recursive: true, force: true });
	});

	it("20 concurrent 10 MiB uploads all get their id, and RSS grows by less than 64 MiB", async () => {
		const pid = service.child.pid ?? 0;
		// One upload first: the hasher's WebAssembly and the route's lazy set-up are not per-upload memory.
		expect((await streamUpload(service.url, 1_048_576)).status).toBe(200);
		const rssBeforeBytes = await residentBytesOf(pid);
		let peakRssBytes = rssBeforeBytes;
		const sampler = setInterval(() => {
			residentBytesOf(pid).then(
				(bytes) => {
					peakRssBytes = Math.max(peakRssBytes, bytes);
				},
				() => {},
			);
		}, 10);
		let results: { status: number; body: string }[];
		try {
			results = await Promise.all(
				Array.from({ length: CONCURRENT_UPLOADS }, () => streamUpload(service.url, UPLOAD_BYTES)),
			);
		} finally {
			clearInterval(sampler);
		}
		peakRssBytes = Math.max(peakRssBytes, await residentBytesOf(pid));

		const ids = results.map((result) => {
			expect(result.status, result.body).toBe(200);
			const { id } = JSON.parse(result.body) as { id: string };
			expect(id).toMatch(/^[A-Za-z0-9_-]{44}$/);
			return id;
		});
		expect(new Set(ids).size).toBe(CONCURRENT_UPLOADS);
		const growthBytes = peakRssBytes - rssBeforeBytes;
		expect(
			growthBytes,
			`RSS ${rssBeforeBytes / 1_048_576} MiB → peak ${peakRssBytes / 1_048_576} MiB`,
		).toBeLessThan(MAX_RSS_GROWTH_BYTES);
	});
});
