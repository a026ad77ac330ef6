/**
 * `tollgate entitlements import`: a Python Session Pro backend's database (built by
 * test/support/legacy-pro-backend.ts as its rules would leave it) moves into Tollgate, and its clients see
 * no change: proofs it issued keep their gen_index_hash and signing key, its revocations stay listed at
 * the same ticket, account details answer as before, onion requests to its key work; a dry run writes
 * nothing, a second run is a no-op, and an import killed half-way leaves the target as it was.
 * @see issue 13
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import sodium from "libsodium-wrappers-sumo";
import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { buildTestApp, type TestApp } from "../support/build-test-app.ts";
import { cleanEnv, runTollgate, TOLLGATE_BIN } from "../support/cli.ts";
import { createTestPostgresDatabase, postgresAdminUrl } from "../support/engines.ts";
import {
	createLegacyBackend,
	type LegacyBackendDatabase,
	type LegacyScenario,
	legacyScenario,
} from "../support/legacy-pro-backend.ts";
import { postJsonThroughOnion, serverOnionKey } from "../support/onion-client.ts";
import { randomKeyPair } from "../support/pro-client.ts";
import {
	legacyAddPaymentRequest,
	legacyGenerateProofRequest,
	legacyProDetailsRequest,
	legacyProofSignatureValid,
	legacyProofSignedBy,
} from "../support/pro-legacy-client.ts";

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

interface Target {
	readonly env: Record<string, string>;
	/** Config overrides that open the same database in-process. */
	readonly overrides: Record<string, unknown>;
	drop(): Promise<void>;
}

async function createTarget(engine: "sqlite" | "postgres", dir: string): Promise<Target> {
	const base = { TOLLGATE_ENTITLEMENTS_ENABLED: "1" };
	if (engine === "sqlite") {
		const dataDir = join(dir, "tollgate");
		await mkdir(dataDir);
		return {
			env: { ...base, TOLLGATE_DATA_DIR: dataDir },
			overrides: { data_dir: dataDir },
			drop: async () => {},
		};
	}
	const database = await createTestPostgresDatabase(postgresAdminUrl() ?? "");
	return {
		env: {
			...base,
			TOLLGATE_DATA_DIR: join(dir, "tollgate-pg"),
			TOLLGATE_DATABASE_URL: database.url,
		},
		overrides: { data_dir: join(dir, "tollgate-pg"), database: { url: database.url } },
		drop: () => database.drop(),
	};
}

const hasPostgres = postgresAdminUrl() !== null;
const pairs = [
	{ source: "sqlite", target: "sqlite", skip: false },
	{ source: "postgres", target: "postgres", skip: !hasPostgres },
	{ source: "sqlite", target: "postgres", skip: !hasPostgres },
] as const;

/** Every Pro table's rows, as `print-tables` shows them (byte columns as their length). */
async function proTables(target: Target): Promise<string> {
	const printed = await runTollgate(["print-tables"], target.env);
	expect(printed.code, printed.stderr).toBe(0);
	return printed.stdout
		.split(/\n(?=\S)/)
		.filter((table) => table.startsWith("pro_"))
		.join("\n");
}

for (const pair of pairs) {
	describe.skipIf(pair.skip)(
		`entitlements import: ${pair.source} backend → ${pair.target} Tollgate`,
		() => {
			let dir: string;
			let scenario: LegacyScenario;
			let backend: LegacyBackendDatabase;
			let target: Target;
			let testApp: TestApp | undefined;

			beforeEach(async () => {
				dir = await mkdtemp(join(tmpdir(), "tollgate-import-"));
				scenario = legacyScenario(Date.now());
				backend = await createLegacyBackend(pair.source, scenario, dir);
				target = await createTarget(pair.target, dir);
			});
			afterEach(async () => {
				await testApp?.close();
				testApp = undefined;
				await backend.drop();
				await target.drop();
				await rm(dir, { recursive: true, force: true });
			});

			const importBackend = (...extra: string[]) =>
				runTollgate(["entitlements", "import", backend.location, ...extra], target.env);

			async function openTollgate(): Promise<TestApp> {
				testApp = await buildTestApp({
					dev: false,
					entitlements: { enabled: true },
					...target.overrides,
				});
				testApp.clock.advanceMs(scenario.nowMs - testApp.clock.nowMs());
				return testApp;
			}

			async function call(app: TestApp, path: string, body: unknown) {
				const response = await app.app.inject({
					method: "POST",
					url: path,
					payload: JSON.stringify(body),
				});
				expect(response.statusCode).toBe(200);
				return response.json() as Record<string, any>;
			}

			it("keeps every answer a legacy client got: proofs under the same key and gen_index_hash, revocations, details, claims", async () => {
				const imported = await importBackend();
				expect(imported.stderr).toBe("");
				expect(imported.code).toBe(0);
				await sodium.ready;
				const backendPubkey = Buffer.from(
					sodium.crypto_sign_seed_keypair(scenario.backendSeed).publicKey,
				).toString("hex");
				expect(imported.stdout).toContain(`backend_pubkey: ${backendPubkey}\n`);
				expect(imported.stdout).toContain(
					"users: 3\npayments: 4 (unredeemed 1, redeemed 1, expired 1, revoked 1)\nrevocations: 3 (ticket 3)\nnext_gen_index: 5\n",
				);
				const app = await openTollgate();
				const nowMs = app.clock.nowMs();
				const { active, refunded, voucher, buyer } = scenario.keys;

				// A proof the Python backend issued, and the one Tollgate issues now: same generation, same key.
				const rotating = randomKeyPair();
				const issuedBefore = legacyProofSignedBy(
					scenario.backendSeed,
					scenario.genIndexHash(3),
					rotating,
					Math.ceil((nowMs - DAY_MS) / DAY_MS) * DAY_MS + 30 * DAY_MS,
				);
				const proof = await call(
					app,
					"/generate_pro_proof",
					legacyGenerateProofRequest(active, rotating, nowMs),
				);
				expect(proof.status).toBe(0);
				expect(proof.result.gen_index_hash).toBe(issuedBefore.gen_index_hash);
				expect(legacyProofSignatureValid(backendPubkey, proof.result)).toBe(true);
				expect(legacyProofSignatureValid(backendPubkey, issuedBefore)).toBe(true);
				// 0.2.0 clients are signed for with the same key.
				const status = await app.app.inject({ method: "GET", url: "/status" });
				expect(status.json().result.signing_pubkey).toBe(backendPubkey);

				// The revocations it published, at its ticket; the Python backend's ones first, by gen_index.
				const revocations = (await call(app, "/get_pro_revocations", { version: 0, ticket: 0 }))
					.result;
				expect(revocations.ticket).toBe(3);
				expect(
					revocations.items.map((item: { gen_index_hash: string }) => item.gen_index_hash),
				).toEqual([scenario.genIndexHash(0), scenario.genIndexHash(1), scenario.genIndexHash(4)]);
				const [beforeSchema9, planChange, refund] = revocations.items;
				// In effect as the Python backend said (creation + 1 day; from the start when creation was 0)…
				expect(beforeSchema9.effective_unix_ts_ms).toBe(DAY_MS);
				expect(planChange.effective_unix_ts_ms).toBe(
					scenario.revocation.planChange.creation + DAY_MS,
				);
				expect(refund.effective_unix_ts_ms).toBe(scenario.revocation.refund.creation + DAY_MS);
				// …and listed until every proof of the generation has expired, not before (§12).
				expect(refund.expiry_unix_ts_ms).toBeGreaterThanOrEqual(
					scenario.revocation.refund.creation + 31 * DAY_MS,
				);
				expect(planChange.expiry_unix_ts_ms).toBeGreaterThanOrEqual(
					scenario.revocation.planChange.expiry,
				);
				expect(
					(await call(app, "/get_pro_revocations", { version: 0, ticket: 3 })).result.items,
				).toEqual([]);

				// Account details, as the legacy rules give them.
				const details = await call(
					app,
					"/get_pro_details",
					legacyProDetailsRequest(active, nowMs, 10),
				);
				expect(details).toMatchObject({
					status: 0,
					result: {
						status: 1,
						auto_renewing: true,
						expiry_unix_ts_ms: scenario.user.active.expiry,
						grace_period_duration_ms: HOUR_MS,
						payments_total: 1,
					},
				});
				const payment = scenario.payment.active;
				expect(details.result.items).toEqual([
					expect.objectContaining({
						status: 2,
						plan: 1,
						payment_provider: 1,
						auto_renewing: true,
						unredeemed_unix_ts_ms: payment.unredeemed_unix_ts_ms,
						redeemed_unix_ts_ms: payment.redeemed_unix_ts_ms,
						expiry_unix_ts_ms: payment.expiry_unix_ts_ms,
						grace_period_duration_ms: HOUR_MS,
						platform_refund_expiry_unix_ts_ms: payment.platform_refund_expiry_unix_ts_ms,
						google_payment_token: "token-active",
						google_order_id: "GPA.3301-0001",
					}),
				]);
				const refundedDetails = await call(
					app,
					"/get_pro_details",
					legacyProDetailsRequest(refunded, nowMs, 10),
				);
				expect(refundedDetails.result).toMatchObject({
					status: 2,
					refund_requested_unix_ts_ms: scenario.payment.refunded.refund_requested_unix_ts_ms,
					items: [
						expect.objectContaining({
							status: 4,
							payment_provider: 2,
							revoked_unix_ts_ms: scenario.payment.refunded.revoked_unix_ts_ms,
							apple_original_tx_id: "2000000901",
							apple_tx_id: "2000000902",
						}),
					],
				});
				expect(
					(
						await call(
							app,
							"/generate_pro_proof",
							legacyGenerateProofRequest(refunded, randomKeyPair(), nowMs),
						)
					).status,
				).toBe(1);
				expect(
					(await call(app, "/get_pro_details", legacyProDetailsRequest(voucher, nowMs, 1))).result,
				).toMatchObject({
					status: 2,
					items: [expect.objectContaining({ status: 3, payment_provider: 3 })],
				});

				// The purchase nobody had claimed binds to its buyer (obfuscated id = sha256 of the master key),
				// under the gen_index the Python backend would have allocated next.
				const claimed = await call(
					app,
					"/add_pro_payment",
					legacyAddPaymentRequest(buyer, randomKeyPair(), {
						provider: 1,
						google_payment_token: "token-buyer",
						google_order_id: "GPA.3301-0002",
					}),
				);
				expect(claimed.status).toBe(0);
				expect(claimed.result.gen_index_hash).toBe(scenario.genIndexHash(5));
				expect(legacyProofSignatureValid(backendPubkey, claimed.result)).toBe(true);

				// Its clients' onion requests, encrypted to the Python backend's key, still reach it.
				const throughOnion = await postJsonThroughOnion(
					app.app,
					await serverOnionKey(Buffer.from(backendPubkey, "hex")),
					"/generate_pro_proof",
					legacyGenerateProofRequest(active, randomKeyPair(), nowMs),
				);
				const onionReply = JSON.parse(throughOnion.body.toString());
				expect(onionReply.status).toBe(0);
				expect(onionReply.result.gen_index_hash).toBe(scenario.genIndexHash(3));
			});

			it("a dry run prints the counts and writes nothing; a second import changes nothing and says so", async () => {
				const emptyBefore = await proTables(target);
				const dryRun = await importBackend("--dry-run");
				expect(dryRun.code, dryRun.stderr).toBe(0);
				expect(dryRun.stdout).toMatch(/^dry run: would import from .*; nothing written\n/);
				expect(dryRun.stdout).toContain(
					"google_notifications: 1 handled, 1 unhandled (their purchases queued for a fresh look at Google)\n",
				);
				expect(dryRun.stdout).toContain("app_store_payments_with_errors: 1\n");
				expect(await proTables(target)).toBe(emptyBefore);

				expect((await importBackend()).code).toBe(0);
				const afterFirst = await proTables(target);
				expect(afterFirst).toContain("pro_users (3 rows)");
				expect(afterFirst).toContain("pro_payments (4 rows)");
				expect(afterFirst).toContain("pro_legacy_revocations (3 rows)");
				expect(afterFirst).toContain("pro_apple_notifications (2 rows)");
				expect(afterFirst).toContain("pro_google_notifications (2 rows)");
				// The unhandled message's purchase and the errored Google payment get a fresh look at Google.
				expect(afterFirst).toContain("pro_google_reconciles (2 rows)");
				const second = await importBackend();
				expect(second.code, second.stderr).toBe(0);
				expect(second.stdout).toMatch(
					/^already imported from this backend on \S+: nothing changed\n/,
				);
				expect(await proTables(target)).toBe(afterFirst);
			});

			it("refuses a Tollgate that already has accounts, or a backend schema it does not read, and writes nothing", async () => {
				const master = randomKeyPair().hex;
				expect((await runTollgate(["entitlements", "grant", master], target.env)).code).toBe(0);
				const before = await proTables(target);
				const refused = await importBackend();
				expect(refused.code).toBe(1);
				expect(refused.stderr).toBe(
					"tollgate: Tollgate's Session Pro ledger already holds 1 accounts and 1 payments; an import needs an empty one\n",
				);
				expect(await proTables(target)).toBe(before);
				const missing = await runTollgate(
					["entitlements", "import", join(dir, "no-such.db")],
					target.env,
				);
				expect(missing.code).toBe(1);
				expect(missing.stderr).toMatch(/^tollgate: cannot open .*no-such\.db/);
				// Some other SQLite database: its user_version is not the backend's 9.
				const other = new Database(join(dir, "other.db"));
				other.exec("CREATE TABLE notes (text TEXT)");
				other.close();
				const notABackend = await runTollgate(
					["entitlements", "import", join(dir, "other.db")],
					target.env,
				);
				expect(notABackend.code).toBe(1);
				expect(notABackend.stderr).toMatch(
					/^tollgate: SQLite database .*other\.db is at schema version 0; start the Python backend's newest release on it once/,
				);
			});
		},
	);
}

/**
 * Waits, without a deadline of its own, until PostgreSQL shows the import blocked on the held lock. The
 * watcher is outside any transaction: pg_stat_activity is read once per transaction.
 */
async function blockedOnLock(client: pg.Client, table: string): Promise<void> {
	for (;;) {
		const { rows } = await client.query(
			"SELECT count(*)::int AS blocked FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1",
			[`%${table}%`],
		);
		if (rows[0].blocked > 0) return;
		await new Promise((resolve) => setTimeout(resolve, 50));
	}
}

describe.skipIf(!hasPostgres)("entitlements import killed half-way", () => {
	for (const targetEngine of ["sqlite", "postgres"] as const) {
		it(`leaves the ${targetEngine} target unchanged, and a later import succeeds`, async () => {
			const dir = await mkdtemp(join(tmpdir(), "tollgate-import-"));
			const scenario = legacyScenario(Date.now());
			const backend = await createLegacyBackend("postgres", scenario, dir);
			const target = await createTarget(targetEngine, dir);
			const locker = new pg.Client({ connectionString: backend.url });
			const watcher = new pg.Client({ connectionString: backend.url });
			let child: ChildProcess | undefined;
			try {
				const before = await proTables(target);
				await locker.connect();
				await watcher.connect();
				// Users, generations and payments are written by the time the import reads this table.
				await locker.query("BEGIN");
				await locker.query("LOCK TABLE apple_notification_uuid_history IN ACCESS EXCLUSIVE MODE");
				const running = spawn(
					process.execPath,
					[TOLLGATE_BIN, "entitlements", "import", backend.location],
					{
						env: cleanEnv(target.env),
						stdio: ["ignore", "ignore", "pipe"],
					},
				);
				child = running;
				let stderr = "";
				running.stderr?.on("data", (chunk: Buffer) => {
					stderr += chunk.toString();
				});
				const exited = new Promise<string>((resolve) =>
					running.once("exit", (code) => resolve(`exited with ${code}: ${stderr}`)),
				);
				const blocked = blockedOnLock(watcher, "apple_notification_uuid_history").then(
					() => "blocked",
				);
				expect(await Promise.race([blocked, exited])).toBe("blocked");
				running.kill("SIGKILL");
				await exited;
				await locker.query("ROLLBACK");
				expect(await proTables(target)).toBe(before);
				const retried = await runTollgate(["entitlements", "import", backend.location], target.env);
				expect(retried.code, retried.stderr).toBe(0);
				expect(await proTables(target)).toContain("pro_users (3 rows)");
			} finally {
				child?.kill("SIGKILL");
				await locker.end();
				await watcher.end();
				await backend.drop();
				await target.drop();
				await rm(dir, { recursive: true, force: true });
			}
		}, 60_000);
	}
});
