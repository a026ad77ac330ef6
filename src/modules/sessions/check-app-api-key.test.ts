/** The API-key check: configured keys compared in memory, stored keys found by id and compared by hash. */
import type { FastifyRequest } from "fastify";
import { describe, expect, it } from "vitest";
import { type AppApiKeyStore, createAppApiKey, type StoredAppApiKey } from "./app-api-key.ts";
import { appApiKeyCheck } from "./check-app-api-key.ts";

const CONFIGURED = "configured-key-0123456789";

function storeOf(keys: StoredAppApiKey[]): AppApiKeyStore & { reads: string[] } {
	const reads: string[] = [];
	return {
		reads,
		insert: async (key) => {
			keys.push(key);
		},
		findById: async (id) => {
			reads.push(id);
			return keys.find((key) => key.id === id) ?? null;
		},
		list: async () => [...keys],
		remove: async (id) => {
			const index = keys.findIndex((key) => key.id === id);
			if (index !== -1) keys.splice(index, 1);
			return index !== -1;
		},
		count: async () => keys.length,
	};
}

const requestWith = (authorization: string | undefined) =>
	({ headers: authorization === undefined ? {} : { authorization } }) as FastifyRequest;

/** A check over one configured key and one stored key, its store's reads counted from zero. */
function checkWithOneStoredKey() {
	const made = createAppApiKey("app", 0);
	const store = storeOf([made.stored]);
	return { made, store, check: appApiKeyCheck([CONFIGURED], store) };
}

describe("the app API key check", () => {
	it("accepts a configured key without reading the store, and a stored key by its id", async () => {
		const { made, store, check } = checkWithOneStoredKey();
		await expect(check(requestWith(`Bearer ${CONFIGURED}`))).resolves.toBeUndefined();
		expect(store.reads).toEqual([]);
		await expect(check(requestWith(`bearer ${made.key}`))).resolves.toBeUndefined();
		expect(store.reads).toEqual([made.stored.id]);
	});

	it("refuses 401 without a Bearer key, with a wrong secret, an unknown id or the id alone", async () => {
		const { made, check } = checkWithOneStoredKey();
		const [id, secret = ""] = made.key.split(".");
		const wrongSecret = `${id}.${secret.startsWith("A") ? "B" : "A"}${secret.slice(1)}`;
		for (const header of [
			undefined,
			CONFIGURED,
			`Basic ${CONFIGURED}`,
			`Bearer ${wrongSecret}`,
			`Bearer ${"f".repeat(16)}.${secret}`,
			`Bearer ${id}`,
		]) {
			await expect(check(requestWith(header)), String(header)).rejects.toMatchObject({
				code: "unauthorized",
				status: 401,
			});
		}
	});
});
