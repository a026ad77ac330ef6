/** The stored app API keys in SQL (migration 0021); one implementation for SQLite and PostgreSQL. */
import type { Kysely } from "kysely";
import type { FoundationTables } from "../../../storage/index.ts";
import type { AppApiKeyStore, StoredAppApiKey } from "../app-api-key.ts";

/** PostgreSQL's BIGINT arrives as a string. */
type Int = number | string;

type AppApiKeyTables = {
	sessions_app_api_keys: {
		id: string;
		key_sha256: Uint8Array;
		label: string | null;
		created_at_ms: Int;
	};
};

type Row = AppApiKeyTables["sessions_app_api_keys"];

function keyOf(row: Row): StoredAppApiKey {
	return {
		id: row.id,
		keySha256: new Uint8Array(row.key_sha256),
		label: row.label,
		createdAtMs: Number(row.created_at_ms),
	};
}

export class SqlAppApiKeyStore implements AppApiKeyStore {
	readonly #db: Kysely<FoundationTables & AppApiKeyTables>;

	constructor(db: Kysely<FoundationTables>) {
		this.#db = db.withTables<AppApiKeyTables>();
	}

	async insert(key: StoredAppApiKey): Promise<void> {
		await this.#db
			.insertInto("sessions_app_api_keys")
			.values({
				id: key.id,
				key_sha256: Buffer.from(key.keySha256),
				label: key.label,
				created_at_ms: key.createdAtMs,
			})
			.execute();
	}

	async findById(id: string): Promise<StoredAppApiKey | null> {
		const row = await this.#db
			.selectFrom("sessions_app_api_keys")
			.selectAll()
			.where("id", "=", id)
			.executeTakeFirst();
		return row === undefined ? null : keyOf(row);
	}

	async list(): Promise<StoredAppApiKey[]> {
		const rows = await this.#db
			.selectFrom("sessions_app_api_keys")
			.selectAll()
			.orderBy("created_at_ms")
			.orderBy("id")
			.execute();
		return rows.map(keyOf);
	}

	async remove(id: string): Promise<boolean> {
		const result = await this.#db
			.deleteFrom("sessions_app_api_keys")
			.where("id", "=", id)
			.executeTakeFirst();
		return Number(result.numDeletedRows) === 1;
	}

	async count(): Promise<number> {
		const row = await this.#db
			.selectFrom("sessions_app_api_keys")
			.select((expression) => expression.fn.countAll().as("keys"))
			.executeTakeFirstOrThrow();
		return Number(row.keys);
	}
}
