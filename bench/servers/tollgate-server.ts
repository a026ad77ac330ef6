/**
 * The service under load: the real app on the storage the environment configures, plus one bench-only
 * route that reads a key from the key-value store (the cost of a session or rate-limit lookup).
 */
import { z } from "zod";
import { buildApp } from "../../src/app.ts";
import { loadConfig } from "../../src/config/index.ts";
import { createLogger } from "../../src/http/logger.ts";
import { loadServiceKeys } from "../../src/keys/service-keys.ts";
import { systemClock } from "../../src/lib/clock.ts";
import { migrateToLatest, openStorage } from "../../src/storage/index.ts";

const config = loadConfig({
	overrides: { logging: { level: "warn" }, http: { port: Number(process.argv[2] ?? 0) } },
});
const logger = createLogger(config);
const storage = await openStorage(config, systemClock, logger);
await migrateToLatest(storage.sql);
const keys = await loadServiceKeys({
	isDev: true,
	keyFile: undefined,
	db: storage.sql.db,
	clock: systemClock,
	logger,
});
const app = await buildApp(config, { storage, keys, clock: systemClock, logger });
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
		void app
			.close()
			.then(() => storage.close())
			.then(() => process.exit(0));
	});
}
