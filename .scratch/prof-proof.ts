import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import { generateProofRequest, randomKeyPair } from "../test/support/pro-client.ts";
import { legacyGenerateProofRequest } from "../test/support/pro-legacy-client.ts";
const legacy = process.argv[2] === "legacy";
const dir = mkdtempSync(join(tmpdir(), "prof-"));
const child = spawn("taskset", ["-c", "0", process.execPath, "--cpu-prof", "--cpu-prof-dir", ".scratch/prof", "--import", "tsx", "bench/servers/tollgate-server.ts", "0"], {
	env: { ...process.env, TOLLGATE_DEV: "1", TOLLGATE_ENTITLEMENTS_ENABLED: "1", TOLLGATE_DATA_DIR: dir },
	stdio: ["ignore", "pipe", "inherit"],
});
const port: number = await new Promise((resolve) => child.stdout!.on("data", (d: Buffer) => { const m = /listening (\d+)/.exec(d.toString()); if (m) resolve(Number(m[1])); }));
const base = `http://127.0.0.1:${port}`;
const master = randomKeyPair(); const rotating = randomKeyPair();
await fetch(`${base}/dev/add_payment`, { method: "POST", body: JSON.stringify({ master_pkey: master.hex, provider: "google_play", plan: "1M" }) });
const body = JSON.stringify(legacy ? legacyGenerateProofRequest(master, rotating, Date.now()) : generateProofRequest(master, rotating, Math.floor(Date.now() / 1000)));
console.log((await (await fetch(`${base}/generate_pro_proof`, { method: "POST", body })).text()).slice(0, 60));
const result = await autocannon({ url: `${base}/generate_pro_proof`, method: "POST", body, connections: 32, duration: 8 });
console.log("req/s", result.requests.average, "non2xx", result.non2xx);
child.kill("SIGINT");
await new Promise((r) => child.once("exit", r));
