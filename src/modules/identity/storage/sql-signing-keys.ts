/** The provider's signing keys in SQL; one implementation for SQLite and PostgreSQL. */
import type { Kysely } from "kysely";
import type { FoundationTables } from "../../../storage/index.ts";
import type { SigningAlgorithm, SigningKeyStore, StoredSigningKey } from "../signing-keys.ts";

type Int = number | string;

type KeyTables = {
	identity_signing_keys: {
		kid: string;
		alg: SigningAlgorithm;
		sealed_jwk: Uint8Array;
		created_at_ms: Int;
		retired_at_ms: Int | null;
		drop_after_ms: Int | null;
	};
};

const orNull = (value: Int | null) => (value === null ? null : Number(value));

export class SqlSigningKeyStore implements SigningKeyStore {
	readonly #db: Kysely<FoundationTables & KeyTables>;

	constructor(db: Kysely<FoundationTables>) {
		this.#db = db.withTables<KeyTables>();
	}

	async list(): Promise<StoredSigningKey[]> {
		const rows = await this.#db
			.selectFrom("identity_signing_keys")
			.selectAll()
			.orderBy("created_at_ms", "desc")
			.orderBy("kid")
			.execute();
		return rows.map((row) => ({
			kid: row.kid,
			alg: row.alg,
			sealedJwk: new Uint8Array(row.sealed_jwk),
			createdAtMs: Number(row.created_at_ms),
			retiredAtMs: orNull(row.retired_at_ms),
			dropAfterMs: orNull(row.drop_after_ms),
		}));
	}

	async insert(key: StoredSigningKey): Promise<void> {
		await this.#db
			.insertInto("identity_signing_keys")
			.values({
				kid: key.kid,
				alg: key.alg,
				sealed_jwk: Buffer.from(key.sealedJwk),
				created_at_ms: key.createdAtMs,
				retired_at_ms: key.retiredAtMs,
				drop_after_ms: key.dropAfterMs,
			})
			.execute();
	}

	async retireOthers(
		alg: SigningAlgorithm,
		keepKid: string,
		atMs: number,
		dropAfterMs: number,
	): Promise<number> {
		const result = await this.#db
			.updateTable("identity_signing_keys")
			.set({ retired_at_ms: atMs, drop_after_ms: dropAfterMs })
			.where("alg", "=", alg)
			.where("kid", "!=", keepKid)
			.where("retired_at_ms", "is", null)
			.executeTakeFirst();
		return Number(result.numUpdatedRows);
	}

	async dropExpired(nowMs: number): Promise<number> {
		const result = await this.#db
			.deleteFrom("identity_signing_keys")
			.where("drop_after_ms", "<=", nowMs)
			.executeTakeFirst();
		return Number(result.numDeletedRows);
	}
}
