/** Runs the real `tollgate` executable, as an operator would, with a clean TOLLGATE_* environment. */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export const TOLLGATE_BIN = fileURLToPath(new URL("../../bin/tollgate.js", import.meta.url));

export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
	const env = Object.fromEntries(
		Object.entries(process.env).filter(([name]) => !name.startsWith("TOLLGATE_")),
	);
	return { ...env, ...extra };
}

export interface CliResult {
	readonly code: number;
	readonly stdout: string;
	readonly stderr: string;
}

export function runTollgate(
	args: readonly string[],
	env: Record<string, string> = {},
	cwd?: string,
): Promise<CliResult> {
	return new Promise((resolve) => {
		execFile(
			process.execPath,
			[TOLLGATE_BIN, ...args],
			{ env: cleanEnv(env), cwd },
			(error, stdout, stderr) => {
				const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
				resolve({ code, stdout, stderr });
			},
		);
	});
}

export interface ServingProcess {
	readonly child: ChildProcess;
	readonly url: string;
	/** Everything the process wrote to stdout and stderr so far. */
	output(): string;
	/** Sends SIGTERM and resolves with the exit code. */
	stop(): Promise<number | null>;
}

/** Starts `tollgate serve` on a free port and resolves once it logs the address it listens on. */
export function serveTollgate(
	env: Record<string, string>,
	args: readonly string[] = [],
): Promise<ServingProcess> {
	const child = spawn(process.execPath, [TOLLGATE_BIN, "serve", ...args], {
		env: cleanEnv({ TOLLGATE_HTTP_PORT: "0", ...env }),
		stdio: ["ignore", "pipe", "pipe"],
	});
	// A test that fails or times out before stopping it must not leave a server running after the run.
	const killOnExit = () => child.kill("SIGKILL");
	process.once("exit", killOnExit);
	child.once("exit", () => process.off("exit", killOnExit));
	const exited = new Promise<number | null>((resolve) =>
		child.once("exit", (code) => resolve(code)),
	);
	return new Promise((resolve, reject) => {
		let output = "";
		let isListening = false;
		const onData = (chunk: Buffer) => {
			output += chunk.toString("utf8");
			if (isListening) return;
			const match = /Server listening at (http:\/\/[^"\s]+)/.exec(output);
			if (match?.[1] !== undefined) {
				isListening = true;
				resolve({
					child,
					url: match[1],
					output: () => output,
					stop: () => {
						child.kill("SIGTERM");
						return exited;
					},
				});
			}
		};
		child.stdout?.on("data", onData);
		child.stderr?.on("data", (chunk: Buffer) => {
			output += chunk.toString("utf8");
		});
		exited.then(
			(code) =>
				reject(new Error(`tollgate serve exited with ${code} before listening:\n${output}`)),
			reject,
		);
	});
}
