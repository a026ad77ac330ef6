/**
 * Secrets the service makes for itself (the service key's seed, a module's signing secret), kept in the
 * database so every instance reads the same one: the first to ask creates it (INSERT … ON CONFLICT DO
 * NOTHING), every later one reads that row.
 */
import { randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import type { FoundationTables } from "./tables.ts";

const SECRET_BYTES = 32;

export interface SecretStore {
	/**
	 * The secret named `name`, created now (32 random bytes) if no instance made it before. Of concurrent
	 * first calls, on any number of instances, all get the one secret stored.
	 * @returns whether this call created it, for a log line.
	 */
	getOrCreate(name: string, nowMs: number): Promise<{ secret: Uint8Array; isNew: boolean }>;
}

export class SqlSecretStore implements SecretStore {
	readonly #db: Kysely<FoundationTables>;

	constructor(db: Kysely<FoundationTables>) {
		this.#db = db;
	}

	async getOrCreate(name: string, nowMs: number): Promise<{ secret: Uint8Array; isNew: boolean }> {
		const inserted = await this.#db
			.insertInto("service_keys")
			.values({ key_name: name, secret: randomBytes(SECRET_BYTES), created_at_ms: nowMs })
			.onConflict((conflict) => conflict.column("key_name").doNothing())
			.returning("key_name")
			.executeTakeFirst();
		const row = await this.#db
			.selectFrom("service_keys")
			.select("secret")
			.where("key_name", "=", name)
			.executeTakeFirstOrThrow();
		return { secret: Uint8Array.from(row.secret), isNew: inserted !== undefined };
	}
}
