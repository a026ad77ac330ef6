/**
 * The identity module's storage port: accounts, their OPAQUE records and passkeys, the consents they gave,
 * and the module's sealed secrets.
 */

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

export interface AccountAuthorizations {
	readonly sessions: readonly {
		readonly id: string;
		readonly signedInAtS: number | null;
		readonly expiresAtS: number | null;
		readonly clientIds: readonly string[];
	}[];
	readonly grants: readonly {
		readonly id: string;
		readonly clientId: string;
		readonly scopes: readonly string[];
		readonly grantedAtS: number | null;
		readonly expiresAtS: number | null;
	}[];
}

/** A WebAuthn credential of an account. */
export interface StoredPasskey {
	/** base64url. */
	readonly id: string;
	readonly userId: string;
	readonly publicKey: Uint8Array;
	readonly signCount: number;
	readonly transports: readonly string[];
	/** singleDevice: a hardware key (amr hwk); multiDevice: a synced passkey (amr swk). */
	readonly deviceType: "singleDevice" | "multiDevice";
	readonly name: string;
	readonly createdAtMs: number;
	readonly lastUsedAtMs: number | null;
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
	/**
	 * Stores the account's new OPAQUE record; `isEmailProven` (the link came by mail) marks its e-mail
	 * verified. `endAuthorizations` also ends every session and grant of the account (a reset by mail).
	 */
	setPasswordRecord(
		userId: string,
		registrationRecord: string,
		atMs: number,
		options?: { readonly isEmailProven?: boolean; readonly endAuthorizations?: boolean },
	): Promise<void>;
	/** A confirmed sign-up: the account and its record in one transaction; null when the e-mail is taken. */
	insertUserWithRecord(
		user: NewIdentityUser,
		registrationRecord: string,
	): Promise<IdentityUser | null>;
	/** Moves the account from `oldEmail` to `newEmail` (verified): false when it no longer has `oldEmail`. */
	changeEmail(
		userId: string,
		oldEmail: string,
		newEmail: string,
		atMs: number,
	): Promise<"changed" | "stale" | "taken">;
	/** Deletes the account with everything it owns (record, roles, consents, passkeys, sessions, grants, tokens). */
	deleteUser(userId: string): Promise<boolean>;
	/** The browsers signed in to the provider as the user, and the grants (apps with access) they gave. */
	listAuthorizations(userId: string, nowMs: number): Promise<AccountAuthorizations>;
	/** Signs one of the user's browsers out; false when it is not theirs or gone. */
	endSession(userId: string, sessionId: string): Promise<boolean>;
	/** Revokes one of the user's grants and its tokens; false when it is not theirs or gone. */
	revokeGrant(userId: string, grantId: string): Promise<boolean>;
	/** The scopes the user consented to give the client (`<scope>@<resource>` for an API's); empty if none. */
	consentedScopes(userId: string, clientId: string): Promise<ReadonlySet<string>>;
	/** Adds to what the user consented to give the client. */
	addConsent(
		userId: string,
		clientId: string,
		scopes: readonly string[],
		atMs: number,
	): Promise<void>;
	listPasskeys(userId: string): Promise<StoredPasskey[]>;
	findPasskey(credentialId: string): Promise<StoredPasskey | null>;
	addPasskey(passkey: StoredPasskey): Promise<void>;
	/** Records a use: the authenticator's new signature counter. */
	passkeyUsed(credentialId: string, signCount: number, atMs: number): Promise<void>;
	/** False when the user has no such passkey. */
	removePasskey(userId: string, credentialId: string): Promise<boolean>;
	/** The sealed secret stored under `name`, or `fresh` stored now if none is (the first instance wins). */
	sealedSecret(name: string, fresh: Uint8Array, atMs: number): Promise<Uint8Array>;
}
