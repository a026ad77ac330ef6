/**
 * The identity provider's oidc-provider Adapters: SQL (SQLite, PostgreSQL) for durable models, the key-value
 * store (embedded, Redis) for short-lived ones. Each answers what oidc-provider asks (find by id, uid and
 * user code; revoke by grant), and consumes once under concurrency: of requests spending one code or
 * refresh token at once, exactly one succeeds, and the spent one still reads as consumed.
 * @see issue 14
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql as query } from "kysely";
import type { Adapter } from "oidc-provider";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock, systemClock } from "../../src/lib/clock.ts";
import { KeyValueOidcAdapter } from "../../src/modules/identity/storage/key-value-oidc-adapter.ts";
import {
	AlreadyConsumedError,
	SqlOidcAdapter,
	sweepExpiredOidcModels,
} from "../../src/modules/identity/storage/sql-oidc-adapter.ts";
import { EmbeddedKeyValueStore } from "../../src/storage/embedded/embedded-key-value-store.ts";
import { RedisKeyValueStore } from "../../src/storage/redis/redis-key-value-store.ts";
import { createTestRedisPrefix, redisUrl } from "../support/engines.ts";
import { type SqlFixture, sqlBackends } from "../support/sql-backends.ts";

interface AdapterFixture {
	adapter(model: string): Adapter;
	cleanup(): Promise<void>;
}

const alreadyConsumed = () => new AlreadyConsumedError("already consumed");

function describeAdapterContract(name: string, open: () => Promise<AdapterFixture>) {
	describe(`oidc-provider adapter: ${name}`, () => {
		let fixture: AdapterFixture;
		beforeEach(async () => {
			fixture = await open();
		});
		afterEach(async () => {
			await fixture.cleanup();
		});

		it("finds what it stored by id, uid and user code; another model's ids are apart; destroy forgets", async () => {
			const interactions = fixture.adapter("Interaction");
			await interactions.upsert("i1", { uid: "u1", accountId: "a1" }, 600);
			const devices = fixture.adapter("DeviceCode");
			await devices.upsert("d1", { userCode: "ABCD-EFGH", grantId: "g1" }, 600);
			expect(await interactions.find("i1")).toEqual({ uid: "u1", accountId: "a1" });
			expect(await interactions.findByUid?.("u1")).toEqual({ uid: "u1", accountId: "a1" });
			expect(await devices.findByUserCode?.("ABCD-EFGH")).toMatchObject({ grantId: "g1" });
			expect(await fixture.adapter("Grant").find("i1")).toBeUndefined();
			await interactions.upsert("i1", { uid: "u1", accountId: "a2" }, 600);
			expect(await interactions.find("i1")).toEqual({ uid: "u1", accountId: "a2" });
			await interactions.destroy("i1");
			expect(await interactions.find("i1")).toBeUndefined();
		});

		it("consumes once: a consumed code reads as consumed, and of concurrent consumes exactly one succeeds", async () => {
			const codes = fixture.adapter("AuthorizationCode");
			await codes.upsert("code-1", { grantId: "g1" }, 60);
			await codes.consume("code-1");
			expect(await codes.find("code-1")).toMatchObject({
				grantId: "g1",
				consumed: expect.any(Number),
			});
			await expect(codes.consume("code-1")).rejects.toBeInstanceOf(AlreadyConsumedError);
			await codes.upsert("code-2", { grantId: "g2" }, 60);
			const outcomes = await Promise.allSettled(
				Array.from({ length: 8 }, () => fixture.adapter("AuthorizationCode").consume("code-2")),
			);
			expect(outcomes.filter((outcome) => outcome.status === "fulfilled")).toHaveLength(1);
			for (const outcome of outcomes)
				if (outcome.status === "rejected")
					expect(outcome.reason).toBeInstanceOf(AlreadyConsumedError);
		});

		it("revokes by grant: every member of the grant goes, other grants' stay", async () => {
			await fixture.adapter("AuthorizationCode").upsert("c-1", { grantId: "g1" }, 600);
			await fixture.adapter("AuthorizationCode").upsert("c-2", { grantId: "g2" }, 600);
			await fixture.adapter("AuthorizationCode").revokeByGrantId("g1");
			expect(await fixture.adapter("AuthorizationCode").find("c-1")).toBeUndefined();
			expect(await fixture.adapter("AuthorizationCode").find("c-2")).toEqual({ grantId: "g2" });
		});
	});
}

for (const backend of sqlBackends()) {
	describe.skipIf(backend.skipReason !== null)(`SQL on ${backend.name}`, () => {
		describeAdapterContract(`SQL (${backend.name})`, async () => {
			const sql = await backend.open();
			return {
				adapter: (model) =>
					new SqlOidcAdapter(sql.database.db, model, systemClock, { alreadyConsumed }),
				cleanup: () => sql.cleanup(),
			};
		});

		describe(`SQL models' lifetimes (${backend.name})`, () => {
			let sql: SqlFixture;
			let clock: ManualClock;
			beforeEach(async () => {
				sql = await backend.open();
				clock = new ManualClock();
			});
			afterEach(async () => {
				await sql.cleanup();
			});

			it("a model lasts its expiresIn (renewed by an upsert) and is swept after; without one it lasts", async () => {
				const sessions = new SqlOidcAdapter(sql.database.db, "Session", clock);
				await sessions.upsert("s1", { uid: "u1" }, 60);
				await sessions.upsert("s1", { uid: "u1" }, 120);
				clock.advanceMs(90_000);
				expect(await sessions.find("s1")).toEqual({ uid: "u1" });
				clock.advanceMs(30_000);
				expect(await sessions.find("s1")).toBeUndefined();
				expect(await sweepExpiredOidcModels(sql.database.db, clock.nowMs())).toBe(1);
				const clients = new SqlOidcAdapter(sql.database.db, "Client", clock);
				await clients.upsert("c1", { client_id: "c1" });
				clock.advanceMs(365 * 86_400_000);
				expect(await clients.find("c1")).toEqual({ client_id: "c1" });
			});

			it("seals a model's payloads at rest when told to", async () => {
				const sealer = {
					seal: (json: string) => Buffer.from(json).toString("base64url"),
					open: (sealed: string) => Buffer.from(sealed, "base64url").toString(),
				};
				const clients = new SqlOidcAdapter(sql.database.db, "Client", clock, { sealer });
				await clients.upsert("c1", { client_id: "c1", client_secret: "s3cret-value" });
				expect(await clients.find("c1")).toMatchObject({ client_secret: "s3cret-value" });
				const { rows } = await query`SELECT payload FROM identity_oidc_models`.execute(
					sql.database.db,
				);
				expect(JSON.stringify(rows)).not.toContain("s3cret-value");
			});
		});
	});
}

describeAdapterContract("key-value (embedded)", async () => {
	const dir = await mkdtemp(join(tmpdir(), "tollgate-oidc-kv-"));
	const store = new EmbeddedKeyValueStore(join(dir, "kv.db"), systemClock);
	return {
		adapter: (model) => new KeyValueOidcAdapter(store, model, systemClock, alreadyConsumed),
		cleanup: async () => {
			await store.close();
			await rm(dir, { recursive: true, force: true });
		},
	};
});

const redis = redisUrl();
describe.skipIf(redis === null)("key-value on Redis", () => {
	describeAdapterContract("key-value (Redis)", async () => {
		const url = redis ?? "";
		const prefix = createTestRedisPrefix(url);
		const store = await RedisKeyValueStore.open({ url, keyPrefix: prefix.prefix });
		return {
			adapter: (model) => new KeyValueOidcAdapter(store, model, systemClock, alreadyConsumed),
			cleanup: async () => {
				await store.close();
				await prefix.drop();
			},
		};
	});
});
