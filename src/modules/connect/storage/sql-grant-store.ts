/** The token vault's rows in SQL; one implementation for SQLite and PostgreSQL. */
import type { Kysely } from "kysely";
import type { FoundationTables } from "../../../storage/index.ts";
import type { GrantStore, StoredGrant } from "../token-vault.ts";

type Int = number | string;

type GrantTables = {
	connect_grants: {
		session_id: string;
		hub: string;
		subject: string;
		key_id: string;
		sealed: Uint8Array;
		version: Int;
		access_expires_at_ms: Int | null;
		created_at_ms: Int;
	};
};

type Row = GrantTables["connect_grants"];

function grantOf(row: Row): StoredGrant {
	return {
		sessionId: row.session_id,
		hub: row.hub,
		subject: row.subject,
		keyId: row.key_id,
		sealed: new Uint8Array(row.sealed),
		version: Number(row.version),
		accessExpiresAtMs: row.access_expires_at_ms === null ? null : Number(row.access_expires_at_ms),
		createdAtMs: Number(row.created_at_ms),
	};
}

export class SqlGrantStore implements GrantStore {
	readonly #db: Kysely<FoundationTables & GrantTables>;

	constructor(db: Kysely<FoundationTables>) {
		this.#db = db.withTables<GrantTables>();
	}

	async insert(grant: StoredGrant): Promise<void> {
		await this.#db
			.insertInto("connect_grants")
			.values({
				session_id: grant.sessionId,
				hub: grant.hub,
				subject: grant.subject,
				key_id: grant.keyId,
				sealed: Buffer.from(grant.sealed),
				version: grant.version,
				access_expires_at_ms: grant.accessExpiresAtMs,
				created_at_ms: grant.createdAtMs,
			})
			.execute();
	}

	async find(sessionId: string): Promise<StoredGrant | null> {
		const row = await this.#db
			.selectFrom("connect_grants")
			.selectAll()
			.where("session_id", "=", sessionId)
			.executeTakeFirst();
		return row === undefined ? null : grantOf(row);
	}

	async replace(
		sessionId: string,
		expectedVersion: number,
		change: Pick<StoredGrant, "keyId" | "sealed" | "accessExpiresAtMs">,
	): Promise<boolean> {
		const result = await this.#db
			.updateTable("connect_grants")
			.set({
				key_id: change.keyId,
				sealed: Buffer.from(change.sealed),
				access_expires_at_ms: change.accessExpiresAtMs,
				version: expectedVersion + 1,
			})
			.where("session_id", "=", sessionId)
			.where("version", "=", expectedVersion)
			.executeTakeFirst();
		return Number(result.numUpdatedRows) === 1;
	}

	async delete(sessionId: string): Promise<boolean> {
		const result = await this.#db
			.deleteFrom("connect_grants")
			.where("session_id", "=", sessionId)
			.executeTakeFirst();
		return Number(result.numDeletedRows) === 1;
	}

	async page(afterSessionId: string, limit: number): Promise<StoredGrant[]> {
		const rows = await this.#db
			.selectFrom("connect_grants")
			.selectAll()
			.where("session_id", ">", afterSessionId)
			.orderBy("session_id")
			.limit(limit)
			.execute();
		return rows.map(grantOf);
	}
}
