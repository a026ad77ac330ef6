/**
 * Passkeys (WebAuthn, @simplewebauthn/server): added from the account page after a fresh sign-in, then a
 * way to sign in instead of the password and to prove it is you again before deleting the account. Each
 * ceremony's challenge lives five minutes in the key-value store and is spent once. Credentials are
 * discoverable, so signing in needs no e-mail; user verification is required. A passkey that syncs
 * between devices gives amr `swk`, one bound to its device (a security key) `hwk` (RFC 8176).
 */
import { randomBytes } from "node:crypto";
import {
	type AuthenticationResponseJSON,
	generateAuthenticationOptions,
	generateRegistrationOptions,
	type PublicKeyCredentialCreationOptionsJSON,
	type PublicKeyCredentialRequestOptionsJSON,
	type RegistrationResponseJSON,
	verifyAuthenticationResponse,
	verifyRegistrationResponse,
} from "@simplewebauthn/server";
import { AppError } from "#errors";
import type { Clock } from "#lib/clock";
import type { KeyValueStore } from "../../storage/index.ts";
import type { AccountStore, IdentityUser, StoredPasskey } from "./account-store.ts";

const CEREMONY_TTL_MS = 5 * 60_000;
const PREFIX = "identity:webauthn:";

interface Ceremony {
	readonly challenge: string;
	/** Registration: whose passkey it adds. Authentication: null, or the account it must prove (step-up). */
	readonly userId: string | null;
	readonly kind: "register" | "authenticate";
}

const refused = (description: string, cause?: unknown) =>
	new AppError("invalid_grant", { description, cause });

export const amrOf = (passkey: Pick<StoredPasskey, "deviceType">): "hwk" | "swk" =>
	passkey.deviceType === "multiDevice" ? "swk" : "hwk";

export class Passkeys {
	readonly #store: AccountStore;
	readonly #kv: KeyValueStore;
	readonly #clock: Clock;
	readonly #rpName: string;
	readonly #rpId: string;
	readonly #origin: string;

	/** The relying party is the issuer's host; its origin is the only one accepted. */
	constructor(options: {
		readonly store: AccountStore;
		readonly kv: KeyValueStore;
		readonly clock: Clock;
		readonly serviceName: string;
		readonly issuer: URL;
	}) {
		this.#store = options.store;
		this.#kv = options.kv;
		this.#clock = options.clock;
		this.#rpName = options.serviceName;
		this.#rpId = options.issuer.hostname;
		this.#origin = options.issuer.origin;
	}

	async #begin(ceremony: Ceremony): Promise<string> {
		const ceremonyId = randomBytes(24).toString("base64url");
		await this.#kv.set(`${PREFIX}${ceremonyId}`, JSON.stringify(ceremony), {
			ttlMs: CEREMONY_TTL_MS,
		});
		return ceremonyId;
	}

	async #spend(ceremonyId: string, kind: Ceremony["kind"]): Promise<Ceremony> {
		const stored = await this.#kv.consume(`${PREFIX}${ceremonyId}`);
		const ceremony = stored === null ? null : (JSON.parse(stored) as Ceremony);
		if (ceremony === null || ceremony.kind !== kind)
			throw refused("The passkey request is unknown, used or expired: try again.");
		return ceremony;
	}

	async registrationOptions(
		user: IdentityUser,
	): Promise<{ ceremonyId: string; options: PublicKeyCredentialCreationOptionsJSON }> {
		const existing = await this.#store.listPasskeys(user.id);
		const options = await generateRegistrationOptions({
			rpName: this.#rpName,
			rpID: this.#rpId,
			userName: user.email,
			userID: new TextEncoder().encode(user.id),
			userDisplayName: user.displayName ?? user.email,
			attestationType: "none",
			excludeCredentials: existing.map((passkey) => ({
				id: passkey.id,
				transports: [...passkey.transports],
			})),
			authenticatorSelection: { residentKey: "required", userVerification: "required" },
		});
		const ceremonyId = await this.#begin({
			challenge: options.challenge,
			userId: user.id,
			kind: "register",
		});
		return { ceremonyId, options };
	}

	async register(
		userId: string,
		ceremonyId: string,
		response: RegistrationResponseJSON,
		name: string,
	): Promise<StoredPasskey> {
		const ceremony = await this.#spend(ceremonyId, "register");
		if (ceremony.userId !== userId) throw refused("This passkey request is another account's.");
		let verified: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
		try {
			verified = await verifyRegistrationResponse({
				response,
				expectedChallenge: ceremony.challenge,
				expectedOrigin: this.#origin,
				expectedRPID: this.#rpId,
				requireUserVerification: true,
			});
		} catch (error) {
			throw refused("The passkey could not be verified.", error);
		}
		if (!verified.verified) throw refused("The passkey could not be verified.");
		const { credential, credentialDeviceType } = verified.registrationInfo;
		if ((await this.#store.findPasskey(credential.id)) !== null)
			throw new AppError("conflict", { description: "This passkey is registered already." });
		const passkey: StoredPasskey = {
			id: credential.id,
			userId,
			publicKey: credential.publicKey,
			signCount: credential.counter,
			transports: credential.transports ?? [],
			deviceType: credentialDeviceType,
			name,
			createdAtMs: this.#clock.nowMs(),
			lastUsedAtMs: null,
		};
		await this.#store.addPasskey(passkey);
		return passkey;
	}

	/** Options for signing in with any passkey, or (step-up) with one of `userId`'s. */
	async authenticationOptions(
		userId: string | null,
	): Promise<{ ceremonyId: string; options: PublicKeyCredentialRequestOptionsJSON }> {
		const allowed = userId === null ? [] : await this.#store.listPasskeys(userId);
		const options = await generateAuthenticationOptions({
			rpID: this.#rpId,
			userVerification: "required",
			allowCredentials: allowed.map((passkey) => ({
				id: passkey.id,
				transports: [...passkey.transports],
			})),
		});
		const ceremonyId = await this.#begin({
			challenge: options.challenge,
			userId,
			kind: "authenticate",
		});
		return { ceremonyId, options };
	}

	/** Checks the assertion; the account it proves and how (amr). */
	async authenticate(
		ceremonyId: string,
		response: AuthenticationResponseJSON,
	): Promise<{ readonly userId: string; readonly amr: string }> {
		const ceremony = await this.#spend(ceremonyId, "authenticate");
		const passkey = await this.#store.findPasskey(response.id);
		if (passkey === null || (ceremony.userId !== null && passkey.userId !== ceremony.userId))
			throw refused("This passkey is not registered here.");
		let verified: Awaited<ReturnType<typeof verifyAuthenticationResponse>>;
		try {
			verified = await verifyAuthenticationResponse({
				response,
				expectedChallenge: ceremony.challenge,
				expectedOrigin: this.#origin,
				expectedRPID: this.#rpId,
				credential: {
					id: passkey.id,
					publicKey: new Uint8Array(passkey.publicKey),
					counter: passkey.signCount,
					transports: [...passkey.transports],
				},
				requireUserVerification: true,
			});
		} catch (error) {
			throw refused("The passkey could not be verified.", error);
		}
		if (!verified.verified || !(await this.#store.isActive(passkey.userId)))
			throw refused("The passkey could not be verified.");
		await this.#store.passkeyUsed(
			passkey.id,
			verified.authenticationInfo.newCounter,
			this.#clock.nowMs(),
		);
		return { userId: passkey.userId, amr: amrOf(passkey) };
	}
}
