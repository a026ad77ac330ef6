/**
 * Runs edge/nginx.conf as shipped, with only addresses, paths and session settings rewritten for the
 * test (ports on loopback, a temporary prefix), under Debian's nginx with the Lua module.
 */
import { execFileSync } from "node:child_process";
import { chmod, copyFile, mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
	EDGE_DIR,
	nginxSkipReason,
	type RunningNginx,
	replacePlaceholder,
	runNginx,
} from "./nginx.ts";
import { freePort } from "./redis-server.ts";

const LUA_MODULE = "/usr/lib/nginx/modules/ngx_http_lua_module.so";

/** Why the edge cannot run here, or null. */
export function nginxEdgeSkipReason(): string | null {
	const nginxMissing = nginxSkipReason();
	if (nginxMissing !== null) return nginxMissing;
	try {
		execFileSync("test", ["-f", LUA_MODULE]);
		execFileSync("test", ["-f", "/usr/share/lua/5.1/nginx/redis.lua"]);
		return null;
	} catch {
		return "nginx with libnginx-mod-http-lua and lua-nginx-redis is not installed";
	}
}

export interface EdgeSettings {
	readonly tollgatePort: number;
	readonly appPort: number;
	readonly redisPort: number;
	readonly format: "v1" | "resty";
	readonly secret: string;
	readonly salt: string;
	readonly cookieName: string;
	readonly keyPrefix: string;
	/** nginx directives added to the server block (benchmarks add an unchecked location). */
	readonly extraServerConfig?: string;
	/** The Lua `positive_cache` table, in place of the shipped one (`false` turns the cache off). */
	readonly positiveCache?: string;
	/** Pins nginx (and so its worker) to this core, for benchmarks. */
	readonly cpuCore?: number;
}

export type RunningEdge = RunningNginx;

function replaceOnce(text: string, from: string, to: string): string {
	return replacePlaceholder("nginx.conf", text, from, to);
}

export async function startNginxEdge(settings: EdgeSettings): Promise<RunningEdge> {
	const prefix = await mkdtemp(join(tmpdir(), "tollgate-edge-"));
	// Workers run as nobody: they must reach the prefix and write the cache.
	await chmod(prefix, 0o755);
	await mkdir(join(prefix, "cache"), { mode: 0o777 });
	const port = await freePort();
	let conf = await readFile(join(EDGE_DIR, "nginx.conf"), "utf8");
	conf = replaceOnce(conf, "/etc/tollgate/edge/", EDGE_DIR);
	conf = replaceOnce(conf, "/var/cache/tollgate-edge", join(prefix, "cache"));
	conf = replaceOnce(conf, "pid /run/tollgate-edge.pid;", `pid ${join(prefix, "nginx.pid")};`);
	conf = replaceOnce(conf, "worker_processes auto;", "worker_processes 1;");
	conf = replaceOnce(conf, "listen 127.0.0.1:8088;", `listen 127.0.0.1:${port};`);
	conf = replaceOnce(conf, "server 127.0.0.1:8080;", `server 127.0.0.1:${settings.tollgatePort};`);
	conf = replaceOnce(conf, "server 127.0.0.1:9000;", `server 127.0.0.1:${settings.appPort};`);
	conf = replaceOnce(conf, "port = 6379", `port = ${settings.redisPort}`);
	conf = replaceOnce(
		conf,
		'format = "v1"',
		`format = "${settings.format}", salt = "${settings.salt}"`,
	);
	conf = replaceOnce(
		conf,
		'cookie_name = "tollgate_session"',
		`cookie_name = "${settings.cookieName}"`,
	);
	conf = replaceOnce(
		conf,
		'key_prefix = "tollgate_session"',
		`key_prefix = "${settings.keyPrefix}"`,
	);
	if (settings.positiveCache !== undefined) {
		conf = replaceOnce(
			conf,
			'positive_cache = { seconds = 5, formats = { "v1" } }',
			`positive_cache = ${settings.positiveCache}`,
		);
	}
	if (settings.extraServerConfig !== undefined) {
		conf = replaceOnce(conf, "\t\tlocation / {", `${settings.extraServerConfig}\n\t\tlocation / {`);
	}
	await writeFile(join(prefix, "nginx.conf"), conf);
	await copyFile(join(EDGE_DIR, "group_cache.conf"), join(prefix, "group_cache.conf"));

	return runNginx({
		prefix,
		port,
		env: { ...process.env, TOLLGATE_SESSIONS_SECRET: settings.secret },
		...(settings.cpuCore === undefined ? {} : { cpuCore: settings.cpuCore }),
	});
}
