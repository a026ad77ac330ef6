/** A private redis-server on a free loopback port, for tests that stop and restart Redis. */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";

export async function freePort(): Promise<number> {
	const server = createServer().listen(0, "127.0.0.1");
	await once(server, "listening");
	const address = server.address();
	server.close();
	if (address === null || typeof address === "string") throw new Error("no free port");
	return address.port;
}

export function hasRedisServer(): boolean {
	try {
		execFileSync("redis-server", ["--version"], { stdio: "ignore" });
		return true;
	} catch {
		return false;
	}
}

export class PrivateRedis {
	readonly port: number;
	#process: ChildProcess | undefined;

	private constructor(port: number) {
		this.port = port;
	}

	static async start(): Promise<PrivateRedis> {
		const redis = new PrivateRedis(await freePort());
		await redis.restart();
		return redis;
	}

	get url(): string {
		return `redis://127.0.0.1:${this.port}`;
	}

	async restart(): Promise<void> {
		const server = spawn(
			"redis-server",
			["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
			{ stdio: ["ignore", "pipe", "ignore"] },
		);
		let output = "";
		for await (const chunk of server.stdout ?? []) {
			output += String(chunk);
			if (output.includes("Ready to accept connections")) break;
		}
		server.stdout?.resume();
		this.#process = server;
	}

	async stop(): Promise<void> {
		const server = this.#process;
		if (server === undefined || server.exitCode !== null) return;
		server.kill("SIGKILL");
		await once(server, "exit");
	}
}
