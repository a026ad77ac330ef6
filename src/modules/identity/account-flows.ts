/**
 * The account flows that go by mail (specs/identity-dodeka.md §3.6–§3.9, redone): sign-up confirmed at the
 * address, password reset, e-mail change confirmed at the new address and told to the old, and invitations
 * for an invite-only sign-up. Every request is answered alike whether or not the address has an account;
 * only the mail differs (an address already in use is told so, and how to reset its password). Each link
 * is single-use with a TTL (account-links.ts).
 */
import { randomUUID } from "node:crypto";
import { AppError } from "#errors";
import type { Clock } from "#lib/clock";
import type { AccountLinks, EmailChangeLink, PasswordLink } from "./account-links.ts";
import { normalisedEmail } from "./account-service.ts";
import type { AccountStore } from "./account-store.ts";
import type { Mailer } from "./mail.ts";

export type SignupPolicy = "open" | "invite" | "closed";

export class AccountFlows {
	readonly #store: AccountStore;
	readonly #links: AccountLinks;
	readonly #mailer: Mailer;
	readonly #signup: SignupPolicy;
	readonly #linkMs: number;
	readonly #inviteMs: number;
	readonly #serviceName: string;
	readonly #clock: Clock;
	/** The public URL of one of the pages, e.g. `pageUrl("set-password", {token})` (values in the fragment). */
	readonly #pageUrl: (page: string, fragment?: Readonly<Record<string, string>>) => string;

	constructor(options: {
		readonly store: AccountStore;
		readonly links: AccountLinks;
		readonly mailer: Mailer;
		readonly signup: SignupPolicy;
		readonly linkMs: number;
		readonly inviteMs: number;
		readonly serviceName: string;
		readonly clock: Clock;
		readonly pageUrl: (page: string, fragment?: Readonly<Record<string, string>>) => string;
	}) {
		this.#store = options.store;
		this.#links = options.links;
		this.#mailer = options.mailer;
		this.#signup = options.signup;
		this.#linkMs = options.linkMs;
		this.#inviteMs = options.inviteMs;
		this.#serviceName = options.serviceName;
		this.#clock = options.clock;
		this.#pageUrl = options.pageUrl;
	}

	get signupPolicy(): SignupPolicy {
		return this.#signup;
	}

	/** A one-time invitation to the sign-up page (identity.signup = invite). */
	async invite(): Promise<string> {
		const token = await this.#links.issue("invite", { issued: true }, this.#inviteMs);
		return this.#pageUrl("sign-up", { invite: token });
	}

	/** Mails a confirmation link to a new address, or a note to one that has an account: the same answer. */
	async requestSignup(request: {
		readonly email: string;
		readonly displayName: string | null;
		readonly invite: string | null;
		readonly continueTo: string | null;
	}): Promise<void> {
		if (this.#signup === "closed")
			throw new AppError("forbidden", {
				description: "Sign-up is closed here: ask the operator for an account.",
			});
		if (this.#signup === "invite") {
			if (request.invite === null)
				throw new AppError("forbidden", {
					description: "Sign-up here is by invitation: open the link you were sent.",
				});
			if ((await this.#links.peek("invite", request.invite)) === null)
				throw new AppError("invalid_grant", {
					description: "The invitation is unknown, used or expired: ask for a new one.",
				});
		}
		const email = normalisedEmail(request.email);
		if ((await this.#store.findUserByEmail(email)) !== null) {
			this.#mailer.send({
				to: email,
				subject: `Your ${this.#serviceName} account`,
				paragraphs: [
					`Someone, probably you, asked to create a ${this.#serviceName} account with this address. It already has one, so nothing was created.`,
					"If you have forgotten its password, you can set a new one.",
				],
				link: { label: "Reset your password", url: this.#pageUrl("reset-password") },
			});
			return;
		}
		const link: PasswordLink = {
			userId: randomUUID(),
			purpose: "signup",
			signup: { email, displayName: request.displayName, invite: request.invite },
			...(request.continueTo === null ? {} : { continueTo: request.continueTo }),
		};
		const token = await this.#links.issue("set_password", link, this.#linkMs);
		this.#mailer.send({
			to: email,
			subject: `Confirm your address for ${this.#serviceName}`,
			paragraphs: [
				`To finish creating your ${this.#serviceName} account, confirm this address and choose a password. The link works once, for ${this.#minutes()}.`,
				"If you did not ask for an account, ignore this mail: nothing is created without it.",
			],
			link: {
				label: "Confirm and choose a password",
				url: this.#pageUrl("set-password", { token }),
			},
		});
	}

	/** Mails a reset link if an active account has the address; answers alike either way. */
	async requestReset(email: string, continueTo: string | null): Promise<void> {
		const user = await this.#store.findUserByEmail(normalisedEmail(email));
		if (user === null || user.disabledAtMs !== null) return;
		const link: PasswordLink = {
			userId: user.id,
			purpose: "reset",
			...(continueTo === null ? {} : { continueTo }),
		};
		const token = await this.#links.issue("set_password", link, this.#linkMs);
		this.#mailer.send({
			to: user.email,
			subject: `Reset your ${this.#serviceName} password`,
			paragraphs: [
				`Someone, probably you, asked to reset the password of your ${this.#serviceName} account. The link works once, for ${this.#minutes()}; setting a new password signs you out everywhere.`,
				"If it was not you, ignore this mail: your password stays as it is.",
			],
			link: { label: "Choose a new password", url: this.#pageUrl("set-password", { token }) },
		});
	}

	/** Mails a confirmation link to the new address (or a note if it has an account); nothing changes yet. */
	async requestEmailChange(userId: string, newEmail: string): Promise<void> {
		const user = await this.#store.findUserById(userId);
		if (user === null) throw new AppError("unauthorized", { description: "Sign in again." });
		const address = normalisedEmail(newEmail);
		if (address === user.email)
			throw new AppError("invalid_request", {
				description: "new_email: that is the account's address already",
			});
		if ((await this.#store.findUserByEmail(address)) !== null) {
			this.#mailer.send({
				to: address,
				subject: `An address change at ${this.#serviceName}`,
				paragraphs: [
					`Someone asked to move a ${this.#serviceName} account to this address, but this address has an account already, so nothing was changed.`,
				],
			});
			return;
		}
		const link: EmailChangeLink = { userId, oldEmail: user.email, newEmail: address };
		const token = await this.#links.issue("email_change", link, this.#linkMs);
		this.#mailer.send({
			to: address,
			subject: `Confirm your new address for ${this.#serviceName}`,
			paragraphs: [
				`You asked to use this address for your ${this.#serviceName} account instead of ${user.email}. The link works once, for ${this.#minutes()}.`,
				"If you did not ask for this, ignore this mail: nothing changes without it.",
			],
			link: { label: "Confirm the new address", url: this.#pageUrl("confirm-email", { token }) },
		});
	}

	/** Spends the link and moves the account to its new address; the old address is told. */
	async confirmEmailChange(token: string): Promise<{ readonly email: string }> {
		const link = await this.#links.spend<EmailChangeLink>("email_change", token);
		if (link === null)
			throw new AppError("invalid_grant", {
				description: "This confirmation link is unknown, used or expired: nothing was changed.",
			});
		const outcome = await this.#store.changeEmail(
			link.userId,
			link.oldEmail,
			link.newEmail,
			this.#clock.nowMs(),
		);
		if (outcome === "taken")
			throw new AppError("invalid_grant", {
				description: "That address has an account of its own now: nothing was changed.",
			});
		if (outcome === "stale")
			throw new AppError("invalid_grant", {
				description: "The account's address changed after this link was sent: nothing was changed.",
			});
		this.#mailer.send({
			to: link.oldEmail,
			subject: `Your ${this.#serviceName} address was changed`,
			paragraphs: [
				`Your ${this.#serviceName} account now uses ${link.newEmail} instead of this address; mail about it goes there from now on.`,
				"If you did not do this, someone may have your password: reset it from the new address's mailbox or ask the operator for help.",
			],
		});
		return { email: link.newEmail };
	}

	#minutes(): string {
		const minutes = Math.round(this.#linkMs / 60_000);
		return minutes % 60 === 0
			? `${minutes / 60} hour${minutes === 60 ? "" : "s"}`
			: `${minutes} minutes`;
	}
}
