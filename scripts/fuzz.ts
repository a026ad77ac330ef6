/**
 * `npm run fuzz -- [--requests N] [--seed S] [--target URL] [--concurrency C] [--only INDEX]
 * [--database-url postgres://… --kv-url redis://…]`: the OpenAPI-driven fuzzer (test/fuzz/openapi-fuzzer.ts)
 * at any size. Without --target it serves the app with every route on (SQLite and the embedded store, or
 * the given PostgreSQL database and Redis) on a free loopback port. Prints the figures and every finding;
 * exits 1 when there is one.
 */
import { parseArgs } from "node:util";
import { fuzz } from "../test/fuzz/openapi-fuzzer.ts";
import { buildFullApp, FULL_APP_API_KEY } from "../test/support/full-app.ts";

const { values } = parseArgs({
	options: {
		requests: { type: "string", default: "10000" },
		seed: { type: "string" },
		target: { type: "string" },
		concurrency: { type: "string", default: "8" },
		only: { type: "string" },
		"api-key": { type: "string" },
		"database-url": { type: "string" },
		"kv-url": { type: "string" },
	},
});

const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
const full =
	values.target === undefined
		? await buildFullApp(undefined, {
				...(values["database-url"] === undefined
					? {}
					: { database: { url: values["database-url"] } }),
				...(values["kv-url"] === undefined ? {} : { kv: { url: values["kv-url"] } }),
			})
		: undefined;
const baseUrl =
	values.target ?? (await full?.testApp.app.listen({ host: "127.0.0.1", port: 0 })) ?? "";
const startedAt = performance.now();
const report = await fuzz({
	baseUrl,
	requests: Number(values.requests),
	seed,
	concurrency: Number(values.concurrency),
	bearerToken: values["api-key"] ?? FULL_APP_API_KEY,
	...(values.only === undefined ? {} : { only: Number(values.only) }),
});
const seconds = (performance.now() - startedAt) / 1_000;
await full?.close();

const statuses = Object.entries(report.byStatus)
	.sort(([a], [b]) => a.localeCompare(b))
	.map(([status, count]) => `${status}: ${count}`)
	.join(", ");
process.stdout.write(
	`seed ${report.seed}: ${report.requests} requests over ${report.operations} operations in ${seconds.toFixed(1)} s\nstatuses: ${statuses}\n`,
);
for (const [operation, count] of Object.entries(report.byOperation).sort())
	process.stdout.write(`  ${String(count).padStart(6)}  ${operation}\n`);
process.stdout.write(`findings: ${report.findings.length}\n`);
for (const finding of report.findings) process.stdout.write(`${JSON.stringify(finding)}\n`);
process.exitCode = report.findings.length === 0 ? 0 : 1;
