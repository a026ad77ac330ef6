/**
 * Runs Debian's nginx in the foreground on loopback, from a temporary prefix holding a config the caller
 * wrote from one of the shipped edge/ files, and stops it again.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

export const EDGE_DIR = fileURLToPath(new URL("../../edge/", import.meta.url));

/** Why nginx cannot run here, or null. */
export function nginxSkipReason(): string | null {
	try {
		execFileSync("nginx", ["-v"], { stdio: "ignore" });
		return null;
	} catch {
		return "nginx is not installed";
	}
}

export interface RunningNginx {
	readonly url: string;
	/** The master's and its workers' process ids (Linux), for benchmarks that read their CPU time. */
	pids(): readonly number[];
	stop(): Promise<void>;
}

/** Replaces every occurrence of `from`, which the shipped file must still contain. */
export function replacePlaceholder(file: string, text: string, from: string, to: string): string {
	if (!text.includes(from)) throw new Error(`edge/${file} no longer contains ${from}`);
	return text.replaceAll(from, to);
}

async function waitForPort(port: number): Promise<void> {
	for (let attempt = 0; attempt < 100; attempt += 1) {
		const open = await new Promise<boolean>((resolve) => {
			const socket = connect(port, "127.0.0.1");
			socket.once("connect", () => {
				socket.destroy();
				resolve(true);
			});
			socket.once("error", () => resolve(false));
		});
		if (open) return;
		await sleep(50);
	}
	throw new Error(`nothing listens on ${port}`);
}

export interface NginxRun {
	/** Holds nginx.conf; removed on stop. */
	readonly prefix: string;
	/** The port nginx.conf listens on. */
	readonly port: number;
	readonly env?: NodeJS.ProcessEnv;
	/** Pins nginx (and so its one worker) to this core, for benchmarks. */
	readonly cpuCore?: number;
}

/** Starts `nginx -c <prefix>/nginx.conf` and resolves once it accepts connections on `port`. */
export async function runNginx(run: NginxRun): Promise<RunningNginx> {
	const nginxArgs = [
		"-p",
		`${run.prefix}/`,
		"-c",
		join(run.prefix, "nginx.conf"),
		"-e",
		join(run.prefix, "error.log"),
		"-g",
		"daemon off;",
	];
	const nginx: ChildProcess =
		run.cpuCore === undefined
			? spawn("nginx", nginxArgs, { env: run.env ?? process.env, stdio: "ignore" })
			: spawn("taskset", ["-c", String(run.cpuCore), "nginx", ...nginxArgs], {
					env: run.env ?? process.env,
					stdio: "ignore",
				});
	const exited = once(nginx, "exit");
	try {
		await Promise.race([
			waitForPort(run.port),
			exited.then(async () => {
				throw new Error(
					`nginx exited:\n${await readFile(join(run.prefix, "error.log"), "utf8").catch(() => "")}`,
				);
			}),
		]);
	} catch (error) {
		nginx.kill("SIGKILL");
		throw error;
	}
	return {
		url: `http://127.0.0.1:${run.port}`,
		pids: () => {
			// taskset execs nginx, so the child is nginx's master either way.
			const master = nginx.pid ?? 0;
			const children = readFileSync(`/proc/${master}/task/${master}/children`, "utf8");
			return [master, ...children.split(" ").filter(Boolean).map(Number)];
		},
		stop: async () => {
			if (nginx.exitCode === null) {
				nginx.kill("SIGQUIT");
				await exited;
			}
			await rm(run.prefix, { recursive: true, force: true });
		},
	};
}
