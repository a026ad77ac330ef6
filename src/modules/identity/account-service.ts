/**
 * Accounts whose passwords the server never sees (OPAQUE, RFC 9807, via @serenity-kit/opaque): a user sets
 * a password through a one-time link by registering an OPAQUE record, and logs in with the two-message
 * OPAQUE exchange. The server holds only the record and its own setup, sealed at rest; login state lives in
 * the key-value store for 60 s and is consumed once. An unknown or disabled e-mail is answered from
 * opaque-ke's per-identifier dummy record: the same shape as a real login, and a finish that always fails.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import * as opaque from "@serenity-kit/opaque";
import { AppError } from "#errors";
import type { Clock } from "#lib/clock";
import type { KeyValueStore } from "../../storage/index.ts";
import type { AccountStore, IdentityUser } from "./account-store.ts";
import type { SecretsKey } from "./secrets-key.ts";

const SERVER_SETUP_NAME = "opaque_server_setup";
const LOGIN_STATE_TTL_MS = 60_000;
const TOKEN_BYTES = 32;
const SET_PASSWORD_PREFIX = "identity:set_password:";
const LOGIN_PREFIX = "identity:login:";
/** Unknown e-mails get a dummy record of their own, never a real user's identifier space. */
const UNKNOWN_IDENTIFIER_PREFIX = "unknown:";

await opaque.ready;

export function normalisedEmail(email: string): string {
	return email.trim().toLowerCase();
}

const tokenHash = (token: string) => createHash("sha256").update(token).digest("hex");

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
	readonly #serverSetup: string;
	readonly #clock: Clock;
	readonly #setPasswordLinkMs: number;

	private constructor(
		store: AccountStore,
		kv: KeyValueStore,
		serverSetup: string,
		clock: Clock,
		setPasswordLinkMs: number,
	) {
		this.#store = store;
		this.#kv = kv;
		this.#serverSetup = serverSetup;
		this.#clock = clock;
		this.#setPasswordLinkMs = setPasswordLinkMs;
	}

	/** Reads (or, on the first start of the first instance, creates) the sealed OPAQUE server setup. */
	static async open(options: {
		readonly store: AccountStore;
		readonly kv: KeyValueStore;
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
	async issueSetPasswordToken(userId: string): Promise<string> {
		const token = randomBytes(TOKEN_BYTES).toString("base64url");
		await this.#kv.set(`${SET_PASSWORD_PREFIX}${tokenHash(token)}`, userId, {
			ttlMs: this.#setPasswordLinkMs,
		});
		return token;
	}

	async #userOfToken(token: string): Promise<string> {
		const userId = await this.#kv.get(`${SET_PASSWORD_PREFIX}${tokenHash(token)}`);
		if (userId === null) throw invalidGrant("The set-password link is unknown, used or expired.");
		return userId;
	}

	/** OPAQUE registration, first message: the server's evaluation for this user's identifier. */
	async startRegistration(token: string, registrationRequest: string): Promise<string> {
		const userId = await this.#userOfToken(token);
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

	/** Stores the client's record and spends the link (once: a second finish with it is refused). */
	async finishRegistration(token: string, registrationRecord: string): Promise<void> {
		const userId = await this.#kv.consume(`${SET_PASSWORD_PREFIX}${tokenHash(token)}`);
		if (userId === null) throw invalidGrant("The set-password link is unknown, used or expired.");
		await this.#store.setPasswordRecord(userId, registrationRecord, this.#clock.nowMs());
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
}
