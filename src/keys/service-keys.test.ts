import { mkdtemp, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { systemClock } from "#lib/clock";
import { migrateToLatest, openSqlDatabase, type SqlDatabase } from "../storage/index.ts";
import { SqlSecretStore } from "../storage/kysely/stored-secrets.ts";
import { loadServiceKeys, parseEd25519KeyFile } from "./service-keys.ts";

const silent = pino({ level: "silent" });
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const DEV_PUBLIC_KEY = "fc947730f49eb01427a66e050733294d9e520e545c7a27125a780634e0860a27";
let dir: string;
let database: SqlDatabase;

beforeEach(async () => {
	dir = await mkdtemp(join(tmpdir(), "tollgate-keys-"));
	database = openSqlDatabase({ kind: "sqlite", path: join(dir, "tollgate.db") });
	await migrateToLatest(database);
});
afterEach(async () => {
	await database.close();
});

function load(options: { isDev?: boolean; keyFile?: string; db?: SqlDatabase } = {}) {
	return loadServiceKeys({
		isDev: options.isDev ?? false,
		keyFile: options.keyFile,
		secrets: new SqlSecretStore((options.db ?? database).db),
		clock: systemClock,
		logger: silent,
	});
}

describe("the service key", () => {
	it("in dev mode is the public dev key, and nothing is stored", async () => {
		const keys = await load({ isDev: true });
		expect(hex(keys.ed25519.publicKey)).toBe(DEV_PUBLIC_KEY);
		expect(await database.db.selectFrom("service_keys").selectAll().execute()).toEqual([]);
	});

	it("is created once in the database and every later start (and other instance) reads the same key", async () => {
		const first = await load();
		const other = openSqlDatabase({ kind: "sqlite", path: join(dir, "tollgate.db") });
		const second = await load({ db: other });
		await other.close();
		expect(hex(second.ed25519.publicKey)).toBe(hex(first.ed25519.publicKey));
		expect(hex(first.ed25519.publicKey)).not.toBe(DEV_PUBLIC_KEY);
		expect(first.source).toBe("database");
	});

	it("is created in the key file when it is missing, as 128 hex characters and a newline, readable by its owner only", async () => {
		const path = join(dir, "keys", "key_ed25519");
		const keys = await load({ keyFile: path });
		const content = await readFile(path, "utf8");
		expect(content).toMatch(/^[0-9a-f]{128}\n$/);
		expect(content.slice(64, 128)).toBe(hex(keys.ed25519.publicKey));
		expect((await stat(path)).mode & 0o777).toBe(0o600);
		expect(hex((await load({ keyFile: path })).ed25519.publicKey)).toBe(
			hex(keys.ed25519.publicKey),
		);
	});

	it("reads the key files the Session servers write: 64 raw bytes, or 128 hex with or without a newline", async () => {
		const seed = new Uint8Array(32).fill(0xcd);
		const full = Buffer.concat([seed, Buffer.from(DEV_PUBLIC_KEY, "hex")]);
		for (const content of [
			full,
			Buffer.from(full.toString("hex")),
			Buffer.from(`${full.toString("hex")}\r\n`),
		]) {
			expect(hex(parseEd25519KeyFile(content, "key_ed25519"))).toBe(hex(seed));
		}
		const path = join(dir, "key_ed25519");
		await writeFile(path, full);
		expect(hex((await load({ keyFile: path })).ed25519.publicKey)).toBe(DEV_PUBLIC_KEY);
	});

	it("refuses a key file whose public half does not match its seed, or of the wrong size", () => {
		const mismatched = Buffer.concat([new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)]);
		expect(() => parseEd25519KeyFile(mismatched, "key_ed25519")).toThrow(
			/does not belong to the seed/,
		);
		expect(() => parseEd25519KeyFile(Buffer.alloc(40), "key_ed25519")).toThrow(/expected 64 bytes/);
	});
});
