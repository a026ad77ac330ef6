import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { freePort, loginOverHttp } from "../test/support/connect.ts";

const pat = "glpat-benchbenchbenchbench00";
const tport = await freePort();
const base = `http://127.0.0.1:${tport}`;
const fake = spawn(
	process.execPath,
	["--import", "tsx", "bench/servers/fake-gitlab.ts", "0", base],
	{ env: { ...process.env, BENCH_GITLAB_PAT: pat }, stdio: ["ignore", "pipe", "ignore"] },
);
let out = "";
for await (const c of fake.stdout) {
	out += c;
	if (/listening (\d+)/.test(out)) break;
}
const hubUrl = `http://127.0.0.1:${/listening (\d+)/.exec(out)?.[1]}`;
const extra =
	(process.env.PROF ?? "1") === "1" ? ["--cpu-prof", "--cpu-prof-dir=/tmp/scratch/prof"] : [];
const tg = spawn(process.execPath, [...extra, "bin/tollgate.js", "serve"], {
	env: {
		...process.env,
		TOLLGATE_DATA_DIR: `/tmp/scratch/prof-data-${Date.now()}`,
		TOLLGATE_HTTP_PORT: String(tport),
		TOLLGATE_JOBS_ENABLED: "0",
		TOLLGATE_CONNECT_ENABLED: "1",
		TOLLGATE_CONNECT_PUBLIC_URL: base,
		TOLLGATE_CONNECT_ALLOW_HTTP_HUBS: "1",
		TOLLGATE_CONNECT_HUBS: JSON.stringify({
			bench: { issuer: hubUrl, client_id: "bench", client_secret: "bench-secret" },
		}),
	},
	stdio: ["ignore", "pipe", "inherit"],
});
out = "";
for await (const c of tg.stdout) {
	out += c;
	if (/Server listening/.test(out)) break;
}
tg.stdout.resume();
const login = await loginOverHttp(base, { url: hubUrl }, "bench", "bench");
const cookie = login.jar.header("/arcmanager/api/v1");
await fetch(`${base}/arcmanager/api/v1/auth/addPAT`, {
	method: "PUT",
	headers: { cookie, "content-type": "application/json" },
	body: JSON.stringify({ pat }),
});
console.log(
	execFileSync(
		"wrk",
		[
			"-t1",
			"-c32",
			"-d15s",
			"--latency",
			"-H",
			`cookie: ${cookie}`,
			`${base}/arcmanager/api/v1/proxy/bench/api/v4/projects`,
		],
		{ encoding: "utf8" },
	),
);
tg.kill("SIGTERM");
await once(tg, "exit");
fake.kill("SIGTERM");
