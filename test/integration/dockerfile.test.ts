/**
 * The Dockerfile's CMD and HEALTHCHECK, run exactly as written against this checkout (no container engine
 * here): CMD serves and ends with exit 0 on SIGTERM (node is PID 1 in the container, so SIGTERM reaches the
 * server itself); HEALTHCHECK passes once the server is ready and fails once it is gone. deploy/tollgate.service
 * starts the same command. @see issue 18: SIGTERM to `npm start` left the server running.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanEnv } from "../support/cli.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

interface Instruction {
	readonly keyword: string;
	readonly argument: string;
}

/** Dockerfile instructions, continuation lines joined and comments dropped, as the builder reads them. */
function instructionsOf(text: string): Instruction[] {
	const lines = text.split("\n").filter((line) => !/^\s*#/.test(line));
	return lines
		.join("\n")
		.replace(/\\\n/g, " ")
		.split("\n")
		.map((line) => /^\s*([A-Za-z]+)\s+(.*\S)\s*$/.exec(line))
		.filter((match) => match !== null)
		.map(([, keyword = "", argument = ""]) => ({ keyword: keyword.toUpperCase(), argument }));
}

function execForm(json: string): string[] {
	const parsed: unknown = JSON.parse(json);
	if (!Array.isArray(parsed) || !parsed.every((word) => typeof word === "string"))
		throw new Error(`not an exec-form command: ${json}`);
	return parsed;
}

const dockerfile = instructionsOf(readFileSync(join(ROOT, "Dockerfile"), "utf8"));
const all = (keyword: string) =>
	dockerfile.filter((instruction) => instruction.keyword === keyword).map((i) => i.argument);
/** The runtime stage: everything after the last FROM. */
const runtime = dockerfile.slice(dockerfile.findLastIndex((i) => i.keyword === "FROM"));
const lastOf = (keyword: string) =>
	runtime.findLast((instruction) => instruction.keyword === keyword)?.argument ?? "";

const command = execForm(lastOf("CMD"));
const healthcheck = execForm(/(?:^|\s)CMD\s+(\[.*\])$/.exec(lastOf("HEALTHCHECK"))?.[1] ?? "null");
/** `ENV NAME=value`, one a line, as the Dockerfile writes them. */
const imageEnv: Record<string, string> = Object.fromEntries(
	runtime
		.filter((instruction) => instruction.keyword === "ENV")
		.map((instruction) => /^([A-Z_]+)=(\S+)$/.exec(instruction.argument))
		.filter((match) => match !== null)
		.map(([, name = "", value = ""]) => [name, value]),
);

/** `node …` as node runs it here: the same executable this test runs on. */
function runNode(words: readonly string[]): readonly [string, string[]] {
	const [program, ...args] = words;
	expect(program, "the command is node itself").toBe("node");
	return [process.execPath, args];
}

function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = createServer();
		server.once("error", reject);
		server.listen(0, "127.0.0.1", () => {
			const address = server.address();
			server.close(() =>
				typeof address === "object" && address !== null
					? resolve(address.port)
					: reject(new Error("no port")),
			);
		});
	});
}

function runHealthcheck(env: NodeJS.ProcessEnv): Promise<number> {
	const [program, args] = runNode(healthcheck);
	return new Promise((resolve) => {
		execFile(program, args, { env, cwd: ROOT }, (error) => {
			resolve(error === null ? 0 : typeof error.code === "number" ? error.code : 1);
		});
	});
}

describe("Dockerfile", () => {
	it("builds in one stage and runs in another on the same Node 20 Debian slim base", () => {
		const bases = all("FROM").map((from) => from.split(/\s+/)[0]);
		expect(bases).toHaveLength(2);
		expect(new Set(bases).size).toBe(1);
		const base = bases[0]?.replace(/^\$\{?(\w+)\}?$/, (_, name: string) => {
			const declared = all("ARG").find((arg) => arg.startsWith(`${name}=`));
			return declared?.slice(name.length + 1) ?? "";
		});
		expect(base).toMatch(/^node:20[.\d]*-(bookworm|bullseye)-slim$/);
		expect(all("RUN").join("\n")).toMatch(/npm ci/);
		expect(all("RUN").join("\n")).toMatch(/node bin\/build\.js/);
		// Made inside the image, or the operator's own (data, local configuration with secrets).
		const ignored = readFileSync(join(ROOT, ".dockerignore"), "utf8").split("\n");
		expect(ignored).toEqual(
			expect.arrayContaining(["node_modules", "dist", "data", ".git", "tollgate.toml"]),
		);
	});

	it("runs as a non-root user, with the data directory as a volume and the port exposed", () => {
		expect(lastOf("USER")).not.toMatch(/^(root|0)(:|$)/);
		expect(lastOf("USER")).not.toBe("");
		expect(execForm(lastOf("VOLUME"))).toEqual([imageEnv.TOLLGATE_DATA_DIR]);
		expect(lastOf("EXPOSE")).toBe(imageEnv.TOLLGATE_HTTP_PORT);
		expect(imageEnv.TOLLGATE_HTTP_HOST).toBe("0.0.0.0");
		expect(command).toEqual(["node", "bin/tollgate.js", "serve"]);
	});

	it("deploy/tollgate.service starts the same command, as node, as its own user, on its state directory", () => {
		const unit = readFileSync(join(ROOT, "deploy", "tollgate.service"), "utf8");
		const setting = (name: string) =>
			[...unit.matchAll(new RegExp(`^${name}=(.*)$`, "gm"))].map((match) => match[1] ?? "");
		const [program = "", ...args] = (setting("ExecStart")[0] ?? "").split(/\s+/);
		expect(basename(program)).toBe("node");
		expect(args).toEqual(command.slice(1));
		expect(setting("User")[0]).toMatch(/^(?!root$)\w+$/);
		expect(setting("WorkingDirectory")).toHaveLength(1);
		const [stateDirectory] = setting("StateDirectory");
		expect(setting("Environment")).toContain(`TOLLGATE_DATA_DIR=/var/lib/${stateDirectory}/data`);
		expect(setting("Restart")).toEqual(["on-failure"]);
	});

	describe("CMD and HEALTHCHECK against this checkout", () => {
		let dataDir: string;
		let env: NodeJS.ProcessEnv;
		let server: ChildProcess;
		let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
		let output = "";

		beforeAll(async () => {
			dataDir = await mkdtemp(join(tmpdir(), "tollgate-docker-"));
			env = cleanEnv({
				...imageEnv,
				TOLLGATE_DATA_DIR: dataDir,
				TOLLGATE_HTTP_PORT: String(await freePort()),
				// The image listens on every interface; a test machine keeps to loopback.
				TOLLGATE_HTTP_HOST: "127.0.0.1",
			});
			const [program, args] = runNode(command);
			server = spawn(program, args, { env, cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
			const killOnExit = () => server.kill("SIGKILL");
			process.once("exit", killOnExit);
			exited = new Promise((resolve) =>
				server.once("exit", (code, signal) => {
					process.off("exit", killOnExit);
					resolve({ code, signal });
				}),
			);
			const collect = (chunk: Buffer) => {
				output += chunk.toString("utf8");
			};
			server.stdout?.on("data", collect);
			server.stderr?.on("data", collect);
		});
		afterAll(async () => {
			if (server.exitCode === null && server.signalCode === null) {
				server.kill("SIGKILL");
				await exited;
			}
			await rm(dataDir, { recursive: true, force: true });
		});

		it("HEALTHCHECK passes once the server is ready; SIGTERM ends CMD with exit 0; HEALTHCHECK then fails", async () => {
			let hasExited = false;
			void exited.then(() => {
				hasExited = true;
			});
			// Docker runs the check until it passes; so does this, for as long as the server runs.
			let health = await runHealthcheck(env);
			while (health !== 0 && !hasExited) health = await runHealthcheck(env);
			expect(hasExited, output).toBe(false);
			expect(health).toBe(0);

			server.kill("SIGTERM");
			expect(await exited, output).toEqual({ code: 0, signal: null });
			expect(await runHealthcheck(env)).not.toBe(0);
		}, 120_000);
	});
});
