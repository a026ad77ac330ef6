/**
 * The identity provider's oidc-provider Adapter over SQL, on SQLite and PostgreSQL: what oidc-provider asks of
 * an adapter (find by id, uid and user code; expiry; revoke by grant), and consume-once under concurrency:
 * of requests spending one code or refresh token at once, exactly one succeeds.
 * @see issue 14
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/lib/clock.ts";
import {
	AlreadyConsumedError,
	SqlOidcAdapter,
	sweepExpiredOidcModels,
} from "../../src/modules/identity/storage/sql-oidc-adapter.ts";
import { type SqlFixture, sqlBackends } from "../support/sql-backends.ts";

for (const backend of sqlBackends()) {
	describe.skipIf(backend.skipReason !== null)(`oidc-provider adapter on ${backend.name}`, () => {
		let fixture: SqlFixture;
		let clock: ManualClock;
		const adapter = (model: string) => new SqlOidcAdapter(fixture.database.db, model, clock);

		beforeEach(async () => {
			fixture = await backend.open();
			clock = new ManualClock();
		});
		afterEach(async () => {
			await fixture.cleanup();
		});

		it("finds what it stored by id, uid and user code until it expires; another model's ids are apart", async () => {
			const sessions = adapter("Session");
			await sessions.upsert("s1", { uid: "u1", accountId: "a1" }, 60);
			const devices = adapter("DeviceCode");
			await devices.upsert("d1", { userCode: "ABCD-EFGH", grantId: "g1" }, 600);
			expect(await sessions.find("s1")).toEqual({ uid: "u1", accountId: "a1" });
			expect(await sessions.findByUid("u1")).toEqual({ uid: "u1", accountId: "a1" });
			expect(await devices.findByUserCode("ABCD-EFGH")).toMatchObject({ grantId: "g1" });
			expect(await adapter("Grant").find("s1")).toBeUndefined();
			// An upsert replaces the payload and the expiry.
			await sessions.upsert("s1", { uid: "u1", accountId: "a2" }, 120);
			clock.advanceMs(90_000);
			expect(await sessions.find("s1")).toEqual({ uid: "u1", accountId: "a2" });
			clock.advanceMs(30_000);
			expect(await sessions.find("s1")).toBeUndefined();
			expect(await sweepExpiredOidcModels(fixture.database.db, clock.nowMs())).toBe(1);
			// Without expiresIn a model lasts until destroyed.
			const clients = adapter("Client");
			await clients.upsert("c1", { client_id: "c1" });
			clock.advanceMs(365 * 86_400_000);
			expect(await clients.find("c1")).toEqual({ client_id: "c1" });
			await clients.destroy("c1");
			expect(await clients.find("c1")).toBeUndefined();
		});

		it("consumes once: a consumed code reads as consumed, and of concurrent consumes exactly one succeeds", async () => {
			const codes = adapter("AuthorizationCode");
			await codes.upsert("code-1", { grantId: "g1" }, 60);
			await codes.consume("code-1");
			expect(await codes.find("code-1")).toMatchObject({
				grantId: "g1",
				consumed: Math.floor(clock.nowMs() / 1_000),
			});
			await expect(codes.consume("code-1")).rejects.toBeInstanceOf(AlreadyConsumedError);

			const refresh = adapter("RefreshToken");
			await refresh.upsert("rt-1", { grantId: "g2" }, 3_600);
			const outcomes = await Promise.allSettled(
				Array.from({ length: 8 }, () => adapter("RefreshToken").consume("rt-1")),
			);
			expect(outcomes.filter((outcome) => outcome.status === "fulfilled")).toHaveLength(1);
			for (const outcome of outcomes)
				if (outcome.status === "rejected")
					expect(outcome.reason).toBeInstanceOf(AlreadyConsumedError);
		});

		it("revokes by grant: every token of the grant goes, other grants' stay", async () => {
			await adapter("AccessToken").upsert("at-1", { grantId: "g1" }, 3_600);
			await adapter("RefreshToken").upsert("rt-1", { grantId: "g1" }, 3_600);
			await adapter("AccessToken").upsert("at-2", { grantId: "g2" }, 3_600);
			await adapter("RefreshToken").revokeByGrantId("g1");
			expect(await adapter("AccessToken").find("at-1")).toBeUndefined();
			expect(await adapter("RefreshToken").find("rt-1")).toBeUndefined();
			expect(await adapter("AccessToken").find("at-2")).toEqual({ grantId: "g2" });
		});
	});
}
