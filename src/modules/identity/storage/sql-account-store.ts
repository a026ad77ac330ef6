/** The identity accounts in SQL; one implementation for SQLite and PostgreSQL. */
import type { Kysely, Selectable } from "kysely";
import type { FoundationTables } from "../../../storage/index.ts";
import type { AccountStore, IdentityUser, NewIdentityUser } from "../account-store.ts";

/** PostgreSQL returns BIGINT as text and BOOLEAN as boolean; SQLite numbers for both. */
type Int = number | string;
type Bool = number | boolean;

type IdentityTables = {
	identity_users: {
		id: string;
		email: string;
		email_verified: Bool;
		display_name: string | null;
		disabled_at_ms: Int | null;
		created_at_ms: Int;
		updated_at_ms: Int;
	};
	identity_user_roles: { user_id: string; role: string };
	identity_password_records: { user_id: string; registration_record: string; updated_at_ms: Int };
	identity_sealed_secrets: { name: string; sealed: Uint8Array; created_at_ms: Int };
};

type Db = Kysely<FoundationTables & IdentityTables>;
type UserRow = Selectable<IdentityTables["identity_users"]>;

export class SqlAccountStore implements AccountStore {
	readonly #db: Db;

	constructor(db: Kysely<FoundationTables>) {
		this.#db = db.withTables<IdentityTables>();
	}

	async #withRoles(rows: readonly UserRow[]): Promise<IdentityUser[]> {
		if (rows.length === 0) return [];
		const roles = await this.#db
			.selectFrom("identity_user_roles")
			.select(["user_id", "role"])
			.where(
				"user_id",
				"in",
				rows.map((row) => row.id),
			)
			.orderBy("role")
			.execute();
		return rows.map((row) => ({
			id: row.id,
			email: row.email,
			emailVerified: Boolean(row.email_verified),
			displayName: row.display_name,
			roles: roles.filter((entry) => entry.user_id === row.id).map((entry) => entry.role),
			disabledAtMs: row.disabled_at_ms === null ? null : Number(row.disabled_at_ms),
			createdAtMs: Number(row.created_at_ms),
			updatedAtMs: Number(row.updated_at_ms),
		}));
	}

	async insertUser(user: NewIdentityUser): Promise<IdentityUser | null> {
		const inserted = await this.#db.transaction().execute(async (tx) => {
			const row = await tx
				.insertInto("identity_users")
				.values({
					id: user.id,
					email: user.email,
					email_verified: user.emailVerified ? 1 : 0,
					display_name: user.displayName,
					disabled_at_ms: null,
					created_at_ms: user.atMs,
					updated_at_ms: user.atMs,
				})
				.onConflict((conflict) => conflict.column("email").doNothing())
				.returning("id")
				.executeTakeFirst();
			if (row === undefined) return false;
			if (user.roles.length > 0)
				await tx
					.insertInto("identity_user_roles")
					.values([...new Set(user.roles)].map((role) => ({ user_id: user.id, role })))
					.execute();
			return true;
		});
		return inserted ? this.findUserById(user.id) : null;
	}

	async findUserById(id: string): Promise<IdentityUser | null> {
		const rows = await this.#db
			.selectFrom("identity_users")
			.selectAll()
			.where("id", "=", id)
			.execute();
		return (await this.#withRoles(rows))[0] ?? null;
	}

	async findUserByEmail(email: string): Promise<IdentityUser | null> {
		const rows = await this.#db
			.selectFrom("identity_users")
			.selectAll()
			.where("email", "=", email)
			.execute();
		return (await this.#withRoles(rows))[0] ?? null;
	}

	async listUsers(): Promise<IdentityUser[]> {
		const rows = await this.#db
			.selectFrom("identity_users")
			.selectAll()
			.orderBy("created_at_ms")
			.orderBy("email")
			.execute();
		return this.#withRoles(rows);
	}

	async setDisabled(id: string, disabledAtMs: number | null, atMs: number): Promise<boolean> {
		const result = await this.#db
			.updateTable("identity_users")
			.set({ disabled_at_ms: disabledAtMs, updated_at_ms: atMs })
			.where("id", "=", id)
			.executeTakeFirst();
		return Number(result.numUpdatedRows) > 0;
	}

	async setRole(id: string, role: string, isMember: boolean, atMs: number): Promise<boolean> {
		return this.#db.transaction().execute(async (tx) => {
			const touched = await tx
				.updateTable("identity_users")
				.set({ updated_at_ms: atMs })
				.where("id", "=", id)
				.executeTakeFirst();
			if (Number(touched.numUpdatedRows) === 0) return false;
			if (isMember)
				await tx
					.insertInto("identity_user_roles")
					.values({ user_id: id, role })
					.onConflict((conflict) => conflict.columns(["user_id", "role"]).doNothing())
					.execute();
			else
				await tx
					.deleteFrom("identity_user_roles")
					.where("user_id", "=", id)
					.where("role", "=", role)
					.execute();
			return true;
		});
	}

	async loginRecordByEmail(email: string) {
		const row = await this.#db
			.selectFrom("identity_users as u")
			.innerJoin("identity_password_records as p", "p.user_id", "u.id")
			.select(["u.id", "p.registration_record"])
			.where("u.email", "=", email)
			.where("u.disabled_at_ms", "is", null)
			.executeTakeFirst();
		return row === undefined
			? null
			: { userId: row.id, registrationRecord: row.registration_record };
	}

	async isActive(userId: string): Promise<boolean> {
		const row = await this.#db
			.selectFrom("identity_users")
			.select("id")
			.where("id", "=", userId)
			.where("disabled_at_ms", "is", null)
			.executeTakeFirst();
		return row !== undefined;
	}

	async setPasswordRecord(userId: string, registrationRecord: string, atMs: number): Promise<void> {
		await this.#db
			.insertInto("identity_password_records")
			.values({ user_id: userId, registration_record: registrationRecord, updated_at_ms: atMs })
			.onConflict((conflict) =>
				conflict.column("user_id").doUpdateSet({
					registration_record: registrationRecord,
					updated_at_ms: atMs,
				}),
			)
			.execute();
	}

	async sealedSecret(name: string, fresh: Uint8Array, atMs: number): Promise<Uint8Array> {
		await this.#db
			.insertInto("identity_sealed_secrets")
			.values({ name, sealed: Buffer.from(fresh), created_at_ms: atMs })
			.onConflict((conflict) => conflict.column("name").doNothing())
			.execute();
		const row = await this.#db
			.selectFrom("identity_sealed_secrets")
			.select("sealed")
			.where("name", "=", name)
			.executeTakeFirstOrThrow();
		return new Uint8Array(row.sealed);
	}
}
