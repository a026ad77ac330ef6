/**
 * oidc-provider's Adapter over SQL (SQLite and PostgreSQL): one table for every model, indexed by grant, uid
 * and user code as oidc-provider looks them up. Consuming is one conditional UPDATE: of concurrent requests
 * spending one authorization code or refresh token, exactly one succeeds; the others get invalid_grant.
 */
import type { Kysely } from "kysely";
import type { Adapter, AdapterPayload } from "oidc-provider";
import type { Clock } from "#lib/clock";
import type { FoundationTables } from "../../../storage/index.ts";

type Int = number | string;

type OidcTables = {
	identity_oidc_models: {
		model: string;
		id: string;
		payload: string;
		grant_id: string | null;
		uid: string | null;
		user_code: string | null;
		account_id: string | null;
		expires_at_ms: Int | null;
		consumed_at_s: Int | null;
	};
};

type Db = Kysely<FoundationTables & OidcTables>;

/** Encrypts a model's payload JSON at rest, and opens it again (throwing if it cannot). */
export interface PayloadSealer {
	seal(json: string): string;
	open(sealed: string): string;
}

/** Thrown, by default, when a second request spends what the first already spent. */
export class AlreadyConsumedError extends Error {}

export class SqlOidcAdapter implements Adapter {
	readonly #db: Db;
	readonly #model: string;
	readonly #clock: Clock;
	readonly #alreadyConsumed: () => Error;
	readonly #sealer: PayloadSealer | undefined;

	/**
	 * `alreadyConsumed` makes the error a second spend throws (oidc-provider's invalid_grant); `sealer`,
	 * when given, encrypts this model's payloads at rest (clients: their secrets).
	 */
	constructor(
		db: Kysely<FoundationTables>,
		model: string,
		clock: Clock,
		options: {
			readonly alreadyConsumed?: () => Error;
			readonly sealer?: PayloadSealer | undefined;
		} = {},
	) {
		this.#db = db.withTables<OidcTables>();
		this.#model = model;
		this.#clock = clock;
		this.#alreadyConsumed =
			options.alreadyConsumed ?? (() => new AlreadyConsumedError(`${model} already consumed`));
		this.#sealer = options.sealer;
	}

	async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
		const row = {
			payload:
				this.#sealer === undefined
					? JSON.stringify(payload)
					: this.#sealer.seal(JSON.stringify(payload)),
			grant_id: payload.grantId ?? null,
			uid: payload.uid ?? null,
			user_code: payload.userCode ?? null,
			account_id: payload.accountId ?? null,
			expires_at_ms: typeof expiresIn === "number" ? this.#clock.nowMs() + expiresIn * 1_000 : null,
		};
		await this.#db
			.insertInto("identity_oidc_models")
			.values({ model: this.#model, id, consumed_at_s: null, ...row })
			.onConflict((conflict) => conflict.columns(["model", "id"]).doUpdateSet(row))
			.execute();
	}

	async #findWhere(
		column: "id" | "uid" | "user_code",
		value: string,
	): Promise<AdapterPayload | undefined> {
		const row = await this.#db
			.selectFrom("identity_oidc_models")
			.select(["payload", "expires_at_ms", "consumed_at_s"])
			.where("model", "=", this.#model)
			.where(column, "=", value)
			.executeTakeFirst();
		if (row === undefined) return undefined;
		if (row.expires_at_ms !== null && Number(row.expires_at_ms) <= this.#clock.nowMs())
			return undefined;
		const text = this.#sealer === undefined ? row.payload : this.#sealer.open(row.payload);
		const payload = JSON.parse(text) as AdapterPayload;
		return row.consumed_at_s === null
			? payload
			: { ...payload, consumed: Number(row.consumed_at_s) };
	}

	find(id: string): Promise<AdapterPayload | undefined> {
		return this.#findWhere("id", id);
	}

	findByUid(uid: string): Promise<AdapterPayload | undefined> {
		return this.#findWhere("uid", uid);
	}

	findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
		return this.#findWhere("user_code", userCode);
	}

	async consume(id: string): Promise<void> {
		const result = await this.#db
			.updateTable("identity_oidc_models")
			.set({ consumed_at_s: Math.floor(this.#clock.nowMs() / 1_000) })
			.where("model", "=", this.#model)
			.where("id", "=", id)
			.where("consumed_at_s", "is", null)
			.executeTakeFirst();
		if (Number(result.numUpdatedRows) === 0) throw this.#alreadyConsumed();
	}

	async destroy(id: string): Promise<void> {
		await this.#db
			.deleteFrom("identity_oidc_models")
			.where("model", "=", this.#model)
			.where("id", "=", id)
			.execute();
	}

	async revokeByGrantId(grantId: string): Promise<void> {
		await this.#db.deleteFrom("identity_oidc_models").where("grant_id", "=", grantId).execute();
	}
}

/** Deletes what expired before `beforeMs` (a leased job); returns how many rows. */
export async function sweepExpiredOidcModels(
	db: Kysely<FoundationTables>,
	beforeMs: number,
): Promise<number> {
	const result = await db
		.withTables<OidcTables>()
		.deleteFrom("identity_oidc_models")
		.where("expires_at_ms", "<=", beforeMs)
		.executeTakeFirst();
	return Number(result.numDeletedRows);
}

/** Every stored instance of `model` (for the operator's listing of clients), sealed ones opened. */
export async function listOidcModels(
	db: Kysely<FoundationTables>,
	model: string,
	sealer?: PayloadSealer,
): Promise<AdapterPayload[]> {
	const rows = await db
		.withTables<OidcTables>()
		.selectFrom("identity_oidc_models")
		.select("payload")
		.where("model", "=", model)
		.orderBy("id")
		.execute();
	return rows.map(
		(row) =>
			JSON.parse(sealer === undefined ? row.payload : sealer.open(row.payload)) as AdapterPayload,
	);
}

/** The account's stored models of the given kinds (its sessions, its grants), unexpired, newest last. */
export async function listAccountModels(
	db: Kysely<FoundationTables>,
	accountId: string,
	model: string,
	nowMs: number,
): Promise<{ readonly id: string; readonly payload: AdapterPayload }[]> {
	const rows = await db
		.withTables<OidcTables>()
		.selectFrom("identity_oidc_models")
		.select(["id", "payload"])
		.where("account_id", "=", accountId)
		.where("model", "=", model)
		.where((where) =>
			where.or([where("expires_at_ms", "is", null), where("expires_at_ms", ">", nowMs)]),
		)
		.orderBy("expires_at_ms")
		.execute();
	return rows.map((row) => ({ id: row.id, payload: JSON.parse(row.payload) as AdapterPayload }));
}

/** Ends one of the account's sessions; false when it has no such session. */
export async function deleteAccountSession(
	db: Kysely<FoundationTables>,
	accountId: string,
	sessionId: string,
): Promise<boolean> {
	const result = await db
		.withTables<OidcTables>()
		.deleteFrom("identity_oidc_models")
		.where("model", "=", "Session")
		.where("id", "=", sessionId)
		.where("account_id", "=", accountId)
		.executeTakeFirst();
	return Number(result.numDeletedRows) > 0;
}

/** Revokes one of the account's grants and every token issued under it; false when it has no such grant. */
export async function revokeAccountGrant(
	db: Kysely<FoundationTables>,
	accountId: string,
	grantId: string,
): Promise<boolean> {
	return db.transaction().execute(async (tx) => {
		const tables = tx.withTables<OidcTables>();
		const result = await tables
			.deleteFrom("identity_oidc_models")
			.where("model", "=", "Grant")
			.where("id", "=", grantId)
			.where("account_id", "=", accountId)
			.executeTakeFirst();
		if (Number(result.numDeletedRows) === 0) return false;
		await tables.deleteFrom("identity_oidc_models").where("grant_id", "=", grantId).execute();
		return true;
	});
}
