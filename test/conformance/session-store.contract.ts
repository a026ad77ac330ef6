/** The SessionStore contract (src/modules/sessions/session-store.ts), run against every implementation. */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionStore, SessionWrite } from "../../src/modules/sessions/session-store.ts";

export interface SessionStoreFixture {
	readonly store: SessionStore;
	cleanup(): Promise<void>;
}

function aSession(overrides: Partial<SessionWrite> = {}): SessionWrite {
	return {
		sessionId: randomUUID(),
		storedSignature: "sig-of-this-session-0000000",
		dataJson: JSON.stringify({ username: "sam@gmail.com", groups: ["two"] }),
		groups: ["two"],
		userId: null,
		ttlSeconds: 600,
		...overrides,
	};
}

export function describeSessionStoreContract(
	backend: string,
	open: () => Promise<SessionStoreFixture>,
): void {
	describe(`SessionStore contract on ${backend}`, () => {
		let fixture: SessionStoreFixture;
		let store: SessionStore;
		beforeAll(async () => {
			fixture = await open();
			store = fixture.store;
		});
		afterAll(async () => {
			await fixture.cleanup();
		});

		it("loads what it saved, with the TTL it was given", async () => {
			const write = aSession({ groups: ["one", "three"] });
			await store.save(write);
			const loaded = await store.load(write.sessionId);
			expect(loaded?.dataJson).toBe(write.dataJson);
			expect([...(loaded?.groups ?? [])].sort()).toEqual(["one", "three"]);
			expect(loaded?.ttlSeconds).toBeGreaterThan(590);
			expect(loaded?.ttlSeconds).toBeLessThanOrEqual(600);
		});

		it("returns null for an unknown session", async () => {
			expect(await store.load(randomUUID())).toBeNull();
		});

		it("a second save replaces the groups instead of adding to them", async () => {
			const write = aSession({ groups: ["one", "two"] });
			await store.save(write);
			await store.save({ ...write, groups: ["three"] });
			expect(await store.load(write.sessionId)).toMatchObject({ groups: ["three"] });
			await store.save({ ...write, groups: [] });
			expect(await store.load(write.sessionId)).toMatchObject({ groups: [] });
		});

		it("check answers liveness by the stored signature and membership in one call", async () => {
			const write = aSession({ groups: ["one"] });
			await store.save(write);
			expect(await store.check(write.sessionId, write.storedSignature, "one")).toEqual({
				isAlive: true,
				isMember: true,
			});
			expect(await store.check(write.sessionId, write.storedSignature, "two")).toEqual({
				isAlive: true,
				isMember: false,
			});
			expect(
				(await store.check(write.sessionId, "another-signature-000000000", null)).isAlive,
			).toBe(false);
			expect((await store.check(randomUUID(), write.storedSignature, "one")).isAlive).toBe(false);
		});

		it("check without a stored signature (v1) answers by the data key", async () => {
			const write = aSession({ storedSignature: null, groups: ["g"] });
			await store.save(write);
			expect(await store.check(write.sessionId, null, "g")).toEqual({
				isAlive: true,
				isMember: true,
			});
		});

		it("touch renews the TTL of a live session only", async () => {
			const write = aSession({ ttlSeconds: 100 });
			await store.save(write);
			expect(await store.touch(write.sessionId, 5_000)).toBe(true);
			expect((await store.load(write.sessionId))?.ttlSeconds).toBeGreaterThan(4_990);
			expect(await store.touch(randomUUID(), 5_000)).toBe(false);
		});

		it("destroy removes every key at once: the session is dead to check and load", async () => {
			const write = aSession({ userId: "user-destroy" });
			await store.save(write);
			expect(await store.destroy(write.sessionId, "user-destroy")).toBe(true);
			expect(await store.load(write.sessionId)).toBeNull();
			expect(await store.check(write.sessionId, write.storedSignature, "two")).toEqual({
				isAlive: false,
				isMember: false,
			});
			expect(await store.listUserSessions("user-destroy")).toEqual([]);
			expect(await store.destroy(write.sessionId, null)).toBe(false);
		});

		it("lists a user's live sessions only", async () => {
			const userId = `user-${randomUUID()}`;
			const first = aSession({ userId });
			const second = aSession({ userId });
			await store.save(first);
			await store.save(second);
			await store.save(aSession({ userId: "someone-else" }));
			expect((await store.listUserSessions(userId)).sort()).toEqual(
				[first.sessionId, second.sessionId].sort(),
			);
			await store.destroy(first.sessionId, null);
			expect(await store.listUserSessions(userId)).toEqual([second.sessionId]);
		});
	});
}
