/**
 * The upload baseline: `concurrency` loops each writing the same bytes to a new file in `dir` and fsyncing
 * it (as the blob store does every upload) for `seconds`. Each file is unlinked once its write is timed, so
 * a run does not fill the disk. Prints ops/s, p50 and p99 as JSON.
 */
import { randomBytes } from "node:crypto";
import { mkdir, open, unlink } from "node:fs/promises";
import { join } from "node:path";

const [dir = "", secondsText, sizeText, concurrencyText] = process.argv.slice(2);
const data = randomBytes(Number(sizeText));
await mkdir(dir, { recursive: true });

async function writeOnce(path: string): Promise<void> {
	const handle = await open(path, "wx");
	try {
		await handle.writeFile(data);
		await handle.sync();
	} finally {
		await handle.close();
	}
}

const durationsMs: number[] = [];
let fileCount = 0;
const deadline = performance.now() + Number(secondsText) * 1_000;
const startedAt = performance.now();
await Promise.all(
	Array.from({ length: Number(concurrencyText) }, async () => {
		while (performance.now() < deadline) {
			fileCount += 1;
			const path = join(dir, `${process.pid}-${fileCount}`);
			const writeStartedAt = performance.now();
			await writeOnce(path);
			durationsMs.push(performance.now() - writeStartedAt);
			await unlink(path);
		}
	}),
);
const elapsedSeconds = (performance.now() - startedAt) / 1_000;
durationsMs.sort((a, b) => a - b);
const percentile = (share: number) =>
	durationsMs[Math.min(durationsMs.length - 1, Math.floor(durationsMs.length * share))] ?? 0;
process.stdout.write(
	JSON.stringify({
		requestsPerSecond: durationsMs.length / elapsedSeconds,
		p50Ms: percentile(0.5),
		p99Ms: percentile(0.99),
	}),
);
