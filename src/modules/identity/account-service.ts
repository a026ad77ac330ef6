/**
 * Accounts whose passwords the server never sees (OPAQUE, RFC 9807, via @serenity-kit/opaque): a user sets
 * a password through a one-time link by registering an OPAQUE record, and logs in with the two-message
 * OPAQUE exchange. The server holds only the record and its own setup, sealed at rest; login state lives in
 * the key-value store for 60 s and is consumed once. An unknown or disabled e-mail is answered from
 * opaque-ke's per-identifier dummy record: the same shape as a real login, and a finish that always fails.
 */
import { randomBytes, randomUUID } from "node:crypto";
import * as opaque from "@serenity-kit/opaque";
import { AppError } from "#errors";
import type { Clock } from "#lib/clock";
import type { KeyValueStore } from "../../storage/index.ts";
import type { AccountLinks, PasswordLink } from "./account-links.ts";
import type { AccountSessions } from "./account-sessions.ts";
import type { AccountStore, IdentityUser } from "./account-store.ts";
import type { SecretsKey } from "./secrets-key.ts";

const SERVER_SETUP_NAME = "opaque_server_setup";
const LOGIN_STATE_TTL_MS = 60_000;
const TOKEN_BYTES = 32;
const LOGIN_PREFIX = "identity:login:";
/** Unknown e-mails get a dummy record of their own, never a real user's identifier space. */
const UNKNOWN_IDENTIFIER_PREFIX = "unknown:";

await opaque.ready;

export function normalisedEmail(email: string): string {
	return email.trim().toLowerCase();
}

interface LoginState {
	readonly userId: string | null;
	readonly serverLoginState: string;
}

/** Refused proofs and spent or unknown states look alike to the client: one OAuth-style code. */
function invalidGrant(description: string, cause?: unknown): AppError {
	return new AppError("invalid_grant", { description, cause });
}

/** The library throws on a message it cannot decode: that is the client's malformed field. */
function decoding<T>(field: string, work: () => T): T {
	try {
		return work();
	} catch (error) {
		throw new AppError("invalid_request", {
			description: `${field} is not a valid OPAQUE message`,
			cause: error,
		});
	}
}

export class AccountService {
	readonly #store: AccountStore;
	readonly #kv: KeyValueStore;
	readonly #links: AccountLinks;
	readonly #sessions: AccountSessions;
	readonly #serverSetup: string;
	readonly #clock: Clock;
	readonly #setPasswordLinkMs: number;

	private constructor(
		store: AccountStore,
		kv: KeyValueStore,
		links: AccountLinks,
		sessions: AccountSessions,
		serverSetup: string,
		clock: Clock,
		setPasswordLinkMs: number,
	) {
		this.#store = store;
		this.#kv = kv;
		this.#links = links;
		this.#sessions = sessions;
		this.#serverSetup = serverSetup;
		this.#clock = clock;
		this.#setPasswordLinkMs = setPasswordLinkMs;
	}

	/** Reads (or, on the first start of the first instance, creates) the sealed OPAQUE server setup. */
	static async open(options: {
		readonly store: AccountStore;
		readonly kv: KeyValueStore;
		readonly links: AccountLinks;
		readonly sessions: AccountSessions;
		readonly secretsKey: SecretsKey;
		readonly clock: Clock;
		readonly setPasswordLinkMs: number;
	}): Promise<AccountService> {
		const { store, secretsKey, clock } = options;
		const fresh = secretsKey.seal(SERVER_SETUP_NAME, Buffer.from(opaque.server.createSetup()));
		const sealed = await store.sealedSecret(SERVER_SETUP_NAME, fresh, clock.nowMs());
		const setup = secretsKey.openStored(SERVER_SETUP_NAME, sealed, "the OPAQUE server setup");
		return new AccountService(
			store,
			options.kv,
			options.links,
			options.sessions,
			setup.toString("utf8"),
			clock,
			options.setPasswordLinkMs,
		);
	}

	/** A new account and its one-time set-password token; null when the e-mail is taken. */
	async addUser(request: {
		readonly email: string;
		readonly displayName: string | null;
		readonly roles: readonly string[];
	}): Promise<{ readonly user: IdentityUser; readonly setPasswordToken: string } | null> {
		const user = await this.#store.insertUser({
			id: randomUUID(),
			email: normalisedEmail(request.email),
			emailVerified: false,
			displayName: request.displayName,
			roles: request.roles,
			atMs: this.#clock.nowMs(),
		});
		if (user === null) return null;
		return { user, setPasswordToken: await this.issueSetPasswordToken(user.id) };
	}

	/** A token that lets its holder set the user's password once, within the configured hours. */
	issueSetPasswordToken(userId: string): Promise<string> {
		const link: PasswordLink = { userId, purpose: "set" };
		return this.#links.issue("set_password", link, this.#setPasswordLinkMs);
	}

	/** OPAQUE registration, first message, for whoever holds a set-password link. */
	async startRegistration(token: string, registrationRequest: string): Promise<string> {
		const link = await this.#links.peek<PasswordLink>("set_password", token);
		if (link === null) throw invalidGrant("The set-password link is unknown, used or expired.");
		return this.registrationResponse(link.userId, registrationRequest);
	}

	/** The server's evaluation of a registration request for this user's identifier (stateless). */
	registrationResponse(userId: string, registrationRequest: string): string {
		return decoding(
			"registration_request",
			() =>
				opaque.server.createRegistrationResponse({
					serverSetup: this.#serverSetup,
					userIdentifier: userId,
					registrationRequest,
				}).registrationResponse,
		);
	}

	/**
	 * Spends the link (once: a second finish with it is refused) and stores the client's record: a sign-up's
	 * account is made now, with its e-mail verified; a reset by mail verifies the e-mail and ends every
	 * session and grant of the account, its account-page sessions too. Answers where the user goes next, if anywhere.
	 */
	async finishRegistration(
		token: string,
		registrationRecord: string,
	): Promise<{ readonly continueTo: string | null }> {
		const link = await this.#links.spend<PasswordLink>("set_password", token);
		if (link === null) throw invalidGrant("The set-password link is unknown, used or expired.");
		const atMs = this.#clock.nowMs();
		if (link.signup === undefined) {
			await this.#store.setPasswordRecord(link.userId, registrationRecord, atMs, {
				isEmailProven: link.purpose === "reset",
				endAuthorizations: link.purpose === "reset",
			});
			if (link.purpose === "reset") await this.#sessions.endAllOf(link.userId);
			return { continueTo: link.continueTo ?? null };
		}
		const { invite } = link.signup;
		if (invite !== null && (await this.#links.spend("invite", invite)) === null)
			throw invalidGrant("The invitation has been used or has expired: ask for a new one.");
		const user = await this.#store.insertUserWithRecord(
			{
				id: link.userId,
				email: link.signup.email,
				emailVerified: true,
				displayName: link.signup.displayName,
				roles: [],
				atMs,
			},
			registrationRecord,
		);
		if (user === null)
			throw invalidGrant(
				"An account with this e-mail address exists already: sign in, or reset its password.",
			);
		return { continueTo: link.continueTo ?? null };
	}

	/** A signed-in user's new password (their account page, after a fresh login). */
	setPassword(userId: string, registrationRecord: string): Promise<void> {
		return this.#store.setPasswordRecord(userId, registrationRecord, this.#clock.nowMs());
	}

	/** OPAQUE login, first message: KE2 and a login id for the finish. */
	async startLogin(
		email: string,
		startLoginRequest: string,
	): Promise<{ readonly loginId: string; readonly loginResponse: string }> {
		const normalised = normalisedEmail(email);
		const found = await this.#store.loginRecordByEmail(normalised);
		const { loginResponse, serverLoginState } = decoding("start_login_request", () =>
			opaque.server.startLogin({
				serverSetup: this.#serverSetup,
				userIdentifier: found?.userId ?? `${UNKNOWN_IDENTIFIER_PREFIX}${normalised}`,
				registrationRecord: found?.registrationRecord ?? null,
				startLoginRequest,
			}),
		);
		const loginId = randomBytes(TOKEN_BYTES).toString("base64url");
		const state: LoginState = { userId: found?.userId ?? null, serverLoginState };
		await this.#kv.set(`${LOGIN_PREFIX}${loginId}`, JSON.stringify(state), {
			ttlMs: LOGIN_STATE_TTL_MS,
		});
		return { loginId, loginResponse };
	}

	/** Checks KE3; the login state is spent whatever the outcome. */
	async finishLogin(
		loginId: string,
		finishLoginRequest: string,
	): Promise<{ readonly userId: string; readonly authTimeMs: number }> {
		const saved = await this.#kv.consume(`${LOGIN_PREFIX}${loginId}`);
		if (saved === null) throw invalidGrant("The login is unknown, used or expired: start again.");
		const state = JSON.parse(saved) as LoginState;
		let sessionKey: string | undefined;
		try {
			sessionKey = opaque.server.finishLogin({
				finishLoginRequest,
				serverLoginState: state.serverLoginState,
			}).sessionKey;
		} catch (error) {
			throw invalidGrant("The e-mail or password is wrong.", error);
		}
		if (
			sessionKey === undefined ||
			state.userId === null ||
			!(await this.#store.isActive(state.userId))
		)
			throw invalidGrant("The e-mail or password is wrong.");
		return { userId: state.userId, authTimeMs: this.#clock.nowMs() };
	}

	listUsers(): Promise<IdentityUser[]> {
		return this.#store.listUsers();
	}

	async findUser(idOrEmail: string): Promise<IdentityUser | null> {
		return (
			(await this.#store.findUserById(idOrEmail)) ??
			this.#store.findUserByEmail(normalisedEmail(idOrEmail))
		);
	}

	setDisabled(userId: string, isDisabled: boolean): Promise<boolean> {
		const nowMs = this.#clock.nowMs();
		return this.#store.setDisabled(userId, isDisabled ? nowMs : null, nowMs);
	}

	setRole(userId: string, role: string, isMember: boolean): Promise<boolean> {
		return this.#store.setRole(userId, role, isMember, this.#clock.nowMs());
	}

	/** The account and everything it owns, gone (sessions, grants and tokens revoked with it). */
	deleteUser(userId: string): Promise<boolean> {
		return this.#store.deleteUser(userId);
	}
}
