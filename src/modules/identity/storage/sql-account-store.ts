/** The identity accounts in SQL; one implementation for SQLite and PostgreSQL. */
import type { Kysely, Selectable } from "kysely";
import type { FoundationTables } from "../../../storage/index.ts";
import type {
	AccountAuthorizations,
	AccountStore,
	IdentityUser,
	NewIdentityUser,
	StoredPasskey,
} from "../account-store.ts";
import { deleteAccountSession, listAccountModels, revokeAccountGrant } from "./sql-oidc-adapter.ts";

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
	identity_consents: { user_id: string; client_id: string; scopes: string; updated_at_ms: Int };
	identity_passkeys: {
		id: string;
		user_id: string;
		public_key: Uint8Array;
		sign_count: Int;
		transports: string;
		device_type: string;
		name: string;
		created_at_ms: Int;
		last_used_at_ms: Int | null;
	};
	identity_oidc_models: { account_id: string | null };
};

type Db = Kysely<FoundationTables & IdentityTables>;
type UserRow = Selectable<IdentityTables["identity_users"]>;
type PasskeyRow = Selectable<IdentityTables["identity_passkeys"]>;

function passkeyOf(row: PasskeyRow): StoredPasskey {
	return {
		id: row.id,
		userId: row.user_id,
		publicKey: new Uint8Array(row.public_key),
		signCount: Number(row.sign_count),
		transports: row.transports === "" ? [] : row.transports.split(" "),
		deviceType: row.device_type === "multiDevice" ? "multiDevice" : "singleDevice",
		name: row.name,
		createdAtMs: Number(row.created_at_ms),
		lastUsedAtMs: row.last_used_at_ms === null ? null : Number(row.last_used_at_ms),
	};
}

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

	insertUser(user: NewIdentityUser): Promise<IdentityUser | null> {
		return this.insertUserWithRecord(user, null);
	}

	async insertUserWithRecord(
		user: NewIdentityUser,
		registrationRecord: string | null,
	): Promise<IdentityUser | null> {
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
			if (registrationRecord !== null)
				await tx
					.insertInto("identity_password_records")
					.values({
						user_id: user.id,
						registration_record: registrationRecord,
						updated_at_ms: user.atMs,
					})
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

	async setPasswordRecord(
		userId: string,
		registrationRecord: string,
		atMs: number,
		options: { readonly isEmailProven?: boolean; readonly endAuthorizations?: boolean } = {},
	): Promise<void> {
		await this.#db.transaction().execute(async (tx) => {
			await tx
				.insertInto("identity_password_records")
				.values({ user_id: userId, registration_record: registrationRecord, updated_at_ms: atMs })
				.onConflict((conflict) =>
					conflict.column("user_id").doUpdateSet({
						registration_record: registrationRecord,
						updated_at_ms: atMs,
					}),
				)
				.execute();
			await tx
				.updateTable("identity_users")
				.set(
					options.isEmailProven === true
						? { email_verified: 1, updated_at_ms: atMs }
						: { updated_at_ms: atMs },
				)
				.where("id", "=", userId)
				.execute();
			if (options.endAuthorizations === true)
				await tx.deleteFrom("identity_oidc_models").where("account_id", "=", userId).execute();
		});
	}

	changeEmail(
		userId: string,
		oldEmail: string,
		newEmail: string,
		atMs: number,
	): Promise<"changed" | "stale" | "taken"> {
		return this.#db.transaction().execute(async (tx) => {
			const holder = await tx
				.selectFrom("identity_users")
				.select("id")
				.where("email", "=", newEmail)
				.executeTakeFirst();
			if (holder !== undefined) return "taken";
			const result = await tx
				.updateTable("identity_users")
				.set({ email: newEmail, email_verified: 1, updated_at_ms: atMs })
				.where("id", "=", userId)
				.where("email", "=", oldEmail)
				.executeTakeFirst();
			return Number(result.numUpdatedRows) > 0 ? "changed" : "stale";
		});
	}

	deleteUser(userId: string): Promise<boolean> {
		return this.#db.transaction().execute(async (tx) => {
			await tx.deleteFrom("identity_oidc_models").where("account_id", "=", userId).execute();
			const result = await tx
				.deleteFrom("identity_users")
				.where("id", "=", userId)
				.executeTakeFirst();
			return Number(result.numDeletedRows) > 0;
		});
	}

	async listAuthorizations(userId: string, nowMs: number): Promise<AccountAuthorizations> {
		const seconds = (value: unknown) => (typeof value === "number" ? value : null);
		const sessions = await listAccountModels(this.#db, userId, "Session", nowMs);
		const grants = await listAccountModels(this.#db, userId, "Grant", nowMs);
		return {
			sessions: sessions.map(({ id, payload }) => ({
				id,
				signedInAtS: seconds(payload.loginTs),
				expiresAtS: seconds(payload.exp),
				clientIds: Object.keys((payload.authorizations as object | undefined) ?? {}),
			})),
			grants: grants.map(({ id, payload }) => {
				const openid = payload.openid as { scope?: string } | undefined;
				const resources = (payload.resources ?? {}) as Record<string, string>;
				return {
					id,
					clientId: String(payload.clientId ?? ""),
					scopes: [
						...(openid?.scope?.split(" ").filter(Boolean) ?? []),
						...Object.entries(resources).flatMap(([resource, scope]) =>
							scope.split(" ").map((each) => `${each}@${resource}`),
						),
					],
					grantedAtS: seconds(payload.iat),
					expiresAtS: seconds(payload.exp),
				};
			}),
		};
	}

	endSession(userId: string, sessionId: string): Promise<boolean> {
		return deleteAccountSession(this.#db, userId, sessionId);
	}

	revokeGrant(userId: string, grantId: string): Promise<boolean> {
		return revokeAccountGrant(this.#db, userId, grantId);
	}

	async consentedScopes(userId: string, clientId: string): Promise<ReadonlySet<string>> {
		const row = await this.#db
			.selectFrom("identity_consents")
			.select("scopes")
			.where("user_id", "=", userId)
			.where("client_id", "=", clientId)
			.executeTakeFirst();
		return new Set(row === undefined || row.scopes === "" ? [] : row.scopes.split(" "));
	}

	async addConsent(
		userId: string,
		clientId: string,
		scopes: readonly string[],
		atMs: number,
	): Promise<void> {
		await this.#db.transaction().execute(async (tx) => {
			const row = await tx
				.selectFrom("identity_consents")
				.select("scopes")
				.where("user_id", "=", userId)
				.where("client_id", "=", clientId)
				.executeTakeFirst();
			const merged = [
				...new Set([...(row?.scopes.split(" ").filter(Boolean) ?? []), ...scopes]),
			].join(" ");
			await tx
				.insertInto("identity_consents")
				.values({ user_id: userId, client_id: clientId, scopes: merged, updated_at_ms: atMs })
				.onConflict((conflict) =>
					conflict
						.columns(["user_id", "client_id"])
						.doUpdateSet({ scopes: merged, updated_at_ms: atMs }),
				)
				.execute();
		});
	}

	async listPasskeys(userId: string): Promise<StoredPasskey[]> {
		const rows = await this.#db
			.selectFrom("identity_passkeys")
			.selectAll()
			.where("user_id", "=", userId)
			.orderBy("created_at_ms")
			.execute();
		return rows.map(passkeyOf);
	}

	async findPasskey(credentialId: string): Promise<StoredPasskey | null> {
		const row = await this.#db
			.selectFrom("identity_passkeys")
			.selectAll()
			.where("id", "=", credentialId)
			.executeTakeFirst();
		return row === undefined ? null : passkeyOf(row);
	}

	async addPasskey(passkey: StoredPasskey): Promise<void> {
		await this.#db
			.insertInto("identity_passkeys")
			.values({
				id: passkey.id,
				user_id: passkey.userId,
				public_key: Buffer.from(passkey.publicKey),
				sign_count: passkey.signCount,
				transports: passkey.transports.join(" "),
				device_type: passkey.deviceType,
				name: passkey.name,
				created_at_ms: passkey.createdAtMs,
				last_used_at_ms: passkey.lastUsedAtMs,
			})
			.execute();
	}

	async passkeyUsed(credentialId: string, signCount: number, atMs: number): Promise<void> {
		await this.#db
			.updateTable("identity_passkeys")
			.set({ sign_count: signCount, last_used_at_ms: atMs })
			.where("id", "=", credentialId)
			.execute();
	}

	async removePasskey(userId: string, credentialId: string): Promise<boolean> {
		const result = await this.#db
			.deleteFrom("identity_passkeys")
			.where("id", "=", credentialId)
			.where("user_id", "=", userId)
			.executeTakeFirst();
		return Number(result.numDeletedRows) > 0;
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
