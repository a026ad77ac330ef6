/**
 * A private PostgreSQL cluster in a temporary directory on a free loopback port, for tests that stop and
 * start the database under a running service. Debian's initdb and pg_ctl; as root they run as `postgres`
 * (PostgreSQL refuses to run as root).
 */
import { execFile, execFileSync } from "node:child_process";
import { chownSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "./redis-server.ts";

const run = promisify(execFile);
const isRoot = userInfo().uid === 0;

function asServerUser(command: string, args: readonly string[]): [string, string[]] {
	return isRoot ? ["runuser", ["-u", "postgres", "--", command, ...args]] : [command, [...args]];
}

export function hasPostgresBinaries(): boolean {
	try {
		execFileSync(...asServerUser("pg_ctl", ["--version"]), { stdio: "ignore" });
		return true;
	} catch {
		return false;
	}
}

export class PrivatePostgres {
	readonly port: number;
	readonly #directory: string;

	private constructor(port: number, directory: string) {
		this.port = port;
		this.#directory = directory;
	}

	static async start(): Promise<PrivatePostgres> {
		const directory = await mkdtemp(join(tmpdir(), "tollgate-pg-"));
		if (isRoot) {
			const id = (flag: string) =>
				Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }));
			chownSync(directory, id("-u"), id("-g"));
		}
		await run(
			...asServerUser("initdb", [
				"--pgdata",
				join(directory, "data"),
				"--username",
				"postgres",
				"--auth",
				"trust",
				"--no-sync",
			]),
		);
		const server = new PrivatePostgres(await freePort(), directory);
		await server.restart();
		return server;
	}

	/** The admin connection: trust auth, database `postgres`. */
	get url(): string {
		return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
	}

	/** Starts the server and returns once it accepts connections. */
	async restart(): Promise<void> {
		await run(
			...asServerUser("pg_ctl", [
				"start",
				"--pgdata",
				join(this.#directory, "data"),
				"--wait",
				"--log",
				join(this.#directory, "server.log"),
				"-o",
				`-p ${this.port} -k ${this.#directory} -c listen_addresses=127.0.0.1 -c fsync=off`,
			]),
		);
	}

	/** Stops the server as a restart or failover would: every connection is terminated (57P01). */
	async stop(): Promise<void> {
		await run(
			...asServerUser("pg_ctl", [
				"stop",
				"--pgdata",
				join(this.#directory, "data"),
				"--mode",
				"fast",
				"--wait",
			]),
		);
	}

	async destroy(): Promise<void> {
		await this.stop().catch(() => {});
		await rm(this.#directory, { recursive: true, force: true });
	}
}
