/**
 * The service under load: the real service started by its composition root on the storage the environment
 * configures, plus one bench-only route that reads a key from the key-value store (the cost of a session or
 * rate-limit lookup).
 */
import { z } from "zod";
import { loadConfig } from "../../src/platform/config.ts";
import { startService } from "../../src/platform/service.ts";

const config = loadConfig({
	overrides: { logging: { level: "warn" }, http: { port: Number(process.argv[2] ?? 0) } },
});
const service = await startService(config, { listen: false, startJobs: false });
const { app, storage } = service;
await storage.kv.set("bench:session", JSON.stringify({ user_id: "u1", groups: ["staff"] }));
app.get(
	"/bench/kv",
	{ schema: { response: { 200: z.object({ found: z.boolean() }) } } },
	async () => ({ found: (await storage.kv.get("bench:session")) !== null }),
);
const url = await app.listen({ host: "127.0.0.1", port: config.http.port });
process.stdout.write(`listening ${new URL(url).port}\n`);
for (const signal of ["SIGTERM", "SIGINT"] as const) {
	process.once(signal, () => {
		void service.stop().then(() => process.exit(0));
	});
}
