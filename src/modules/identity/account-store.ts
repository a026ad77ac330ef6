/** The identity module's storage port: accounts, their OPAQUE records and the module's sealed secrets. */

export interface IdentityUser {
	readonly id: string;
	/** Normalised: trimmed, lower case. */
	readonly email: string;
	readonly emailVerified: boolean;
	readonly displayName: string | null;
	readonly roles: readonly string[];
	readonly disabledAtMs: number | null;
	readonly createdAtMs: number;
	readonly updatedAtMs: number;
}

export interface NewIdentityUser {
	readonly id: string;
	readonly email: string;
	readonly emailVerified: boolean;
	readonly displayName: string | null;
	readonly roles: readonly string[];
	readonly atMs: number;
}

export interface AccountStore {
	/** Null when the e-mail is taken. */
	insertUser(user: NewIdentityUser): Promise<IdentityUser | null>;
	findUserById(id: string): Promise<IdentityUser | null>;
	findUserByEmail(email: string): Promise<IdentityUser | null>;
	/** Oldest first. */
	listUsers(): Promise<IdentityUser[]>;
	/** False when there is no such user. */
	setDisabled(id: string, disabledAtMs: number | null, atMs: number): Promise<boolean>;
	/** False when there is no such user. */
	setRole(id: string, role: string, isMember: boolean, atMs: number): Promise<boolean>;
	/** What a login needs in one read: the enabled account with this e-mail and its record, if both exist. */
	loginRecordByEmail(
		email: string,
	): Promise<{ readonly userId: string; readonly registrationRecord: string } | null>;
	/** Whether the account exists and is not disabled. */
	isActive(userId: string): Promise<boolean>;
	setPasswordRecord(userId: string, registrationRecord: string, atMs: number): Promise<void>;
	/** The sealed secret stored under `name`, or `fresh` stored now if none is (the first instance wins). */
	sealedSecret(name: string, fresh: Uint8Array, atMs: number): Promise<Uint8Array>;
}
