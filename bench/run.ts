/**
 * `npm run bench -- <name>`: starts the service and the baseline (raw node:http) in this run, each pinned
 * to the same core, drives them in interleaved rounds with wrk (autocannon when wrk is absent) from the
 * other core, and prints req/s, p50, p99 and the ratio to the baseline. Absolute numbers on these machines
 * swing ±40 % between runs; quote the ratios.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";

interface Target {
	readonly label: string;
	readonly script: string;
	readonly path: string;
	readonly env?: Record<string, string>;
}

interface Measurement {
	readonly requestsPerSecond: number;
	readonly p50Ms: number;
	readonly p99Ms: number;
}

const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const BASELINE: Target = {
	label: "raw node:http (baseline)",
	script: "servers/baseline-http.ts",
	path: "/",
};
const BENCHMARKS: Record<string, readonly Target[]> = {
	healthz: [
		{ label: "tollgate GET /healthz", script: "servers/tollgate-server.ts", path: "/healthz" },
	],
	"kv-read": [
		{
			label: "tollgate KV read (embedded SQLite)",
			script: "servers/tollgate-server.ts",
			path: "/bench/kv",
		},
		{
			label: "tollgate KV read (Redis)",
			script: "servers/tollgate-server.ts",
			path: "/bench/kv",
			env: { TOLLGATE_KV_URL: REDIS_URL, TOLLGATE_KV_KEY_PREFIX: `tollgate-bench:${process.pid}:` },
		},
	],
};

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);

function hasCommand(command: string): boolean {
	try {
		execFileSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" });
		return true;
	} catch {
		return false;
	}
}

const hasTaskset = hasCommand("taskset");
const hasWrk = hasCommand("wrk");

function pinned(core: number, command: string, args: string[]): [string, string[]] {
	return hasTaskset ? ["taskset", ["-c", String(core), command, ...args]] : [command, args];
}

async function startServer(
	target: Target,
	dataDir: string,
): Promise<{ child: ChildProcess; port: number }> {
	const [command, args] = pinned(0, process.execPath, [
		"--import",
		"tsx",
		new URL(target.script, import.meta.url).pathname,
	]);
	const child = spawn(command, args, {
		env: { ...process.env, TOLLGATE_DATA_DIR: dataDir, ...target.env },
		stdio: ["ignore", "pipe", "inherit"],
	});
	let output = "";
	for await (const chunk of child.stdout ?? []) {
		output += String(chunk);
		const match = /listening (\d+)/.exec(output);
		if (match?.[1] !== undefined) {
			child.stdout?.resume();
			return { child, port: Number(match[1]) };
		}
	}
	throw new Error(`${target.label} did not start`);
}

function parseWrkLatencyMs(text: string): number {
	const match = /^([\d.]+)(us|ms|s)$/.exec(text);
	if (match === null) return Number.NaN;
	const value = Number(match[1]);
	return match[2] === "us" ? value / 1_000 : match[2] === "s" ? value * 1_000 : value;
}

async function drive(url: string): Promise<Measurement> {
	if (hasWrk) {
		const [command, args] = pinned(1, "wrk", [
			"-t1",
			`-c${CONNECTIONS}`,
			`-d${SECONDS}s`,
			"--latency",
			url,
		]);
		const output = execFileSync(command, args, { encoding: "utf8" });
		return {
			requestsPerSecond: Number(/Requests\/sec:\s+([\d.]+)/.exec(output)?.[1]),
			p50Ms: parseWrkLatencyMs(/^\s+50%\s+(\S+)/m.exec(output)?.[1] ?? ""),
			p99Ms: parseWrkLatencyMs(/^\s+99%\s+(\S+)/m.exec(output)?.[1] ?? ""),
		};
	}
	const result = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS });
	return {
		requestsPerSecond: result.requests.average,
		p50Ms: result.latency.p50,
		p99Ms: result.latency.p99,
	};
}

function median(values: number[]): number {
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

async function main(): Promise<void> {
	const name = process.argv[2] ?? "";
	const targets = BENCHMARKS[name];
	if (targets === undefined) {
		console.error(`usage: npm run bench -- <${Object.keys(BENCHMARKS).join("|")}>`);
		process.exitCode = 2;
		return;
	}
	const dataDir = mkdtempSync(join(tmpdir(), "tollgate-bench-"));
	const all = [BASELINE, ...targets];
	const servers = await Promise.all(
		all.map((target, index) => startServer(target, join(dataDir, String(index)))),
	);
	const samples = all.map(() => [] as Measurement[]);
	try {
		for (let round = 0; round < ROUNDS; round += 1) {
			for (const [index, target] of all.entries()) {
				samples[index]?.push(await drive(`http://127.0.0.1:${servers[index]?.port}${target.path}`));
			}
		}
	} finally {
		for (const server of servers) server.child.kill("SIGTERM");
		rmSync(dataDir, { recursive: true, force: true });
	}
	const summary = samples.map((runs) => ({
		requestsPerSecond: median(runs.map((run) => run.requestsPerSecond)),
		p50Ms: median(runs.map((run) => run.p50Ms)),
		p99Ms: median(runs.map((run) => run.p99Ms)),
	}));
	const baseline = summary[0]?.requestsPerSecond ?? Number.NaN;
	console.log(
		`bench ${name}: ${ROUNDS} interleaved rounds × ${SECONDS}s, ${CONNECTIONS} connections, ` +
			`load by ${hasWrk ? "wrk" : "autocannon"}, servers ${hasTaskset ? "pinned to core 0" : "unpinned"}`,
	);
	console.log(
		[
			"target".padEnd(40),
			"req/s".padStart(10),
			"p50 ms".padStart(8),
			"p99 ms".padStart(8),
			"ratio".padStart(7),
		].join(" "),
	);
	for (const [index, target] of all.entries()) {
		const row = summary[index];
		if (row === undefined) continue;
		console.log(
			[
				target.label.padEnd(40),
				row.requestsPerSecond.toFixed(0).padStart(10),
				row.p50Ms.toFixed(2).padStart(8),
				row.p99Ms.toFixed(2).padStart(8),
				(row.requestsPerSecond / baseline).toFixed(2).padStart(7),
			].join(" "),
		);
	}
}

await main();
