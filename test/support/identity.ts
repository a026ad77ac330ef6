/**
 * What the identity suites share: a real SMTP server on loopback (npm smtp-server) that keeps what it is
 * sent, the links in those mails, and setting a password through a set-password link as a client would
 * (OPAQUE registration with @serenity-kit/opaque).
 */
import type { AddressInfo } from "node:net";
import * as opaque from "@serenity-kit/opaque";
import { SMTPServer } from "smtp-server";

export interface CaughtMail {
	readonly to: readonly string[];
	/** The whole message as it came over SMTP. */
	readonly raw: string;
	/** The message with its quoted-printable parts decoded, for reading and finding links in. */
	readonly text: string;
}

/** Undoes quoted-printable (RFC 2045 §6.7): soft line breaks and =XX escapes. */
export function decodeQuotedPrintable(text: string): string {
	const bytes = text
		.replace(/=\r?\n/g, "")
		.replace(/=([0-9A-F]{2})/g, (_match, hex: string) =>
			String.fromCharCode(Number.parseInt(hex, 16)),
		);
	return Buffer.from(bytes, "latin1").toString("utf8");
}

/** The link to one of the identity pages in the mail (its plain-text part), token and all. */
export function linkIn(mail: CaughtMail, page: string): string {
	const found = new RegExp(`https?://\\S+/identity/${page}(#\\S*)?`).exec(mail.text)?.[0];
	if (found === undefined) throw new Error(`no /identity/${page} link in:\n${mail.text}`);
	return found;
}

export class MailCatcher {
	readonly #server: SMTPServer;
	readonly #mails: CaughtMail[] = [];
	readonly #waiting = new Set<() => void>();
	port = 0;

	constructor() {
		this.#server = new SMTPServer({
			authOptional: true,
			disabledCommands: ["STARTTLS", "AUTH"],
			logger: false,
			onData: (stream, session, callback) => {
				const chunks: Buffer[] = [];
				stream.on("data", (chunk: Buffer) => chunks.push(chunk));
				stream.on("end", () => {
					const raw = Buffer.concat(chunks).toString("utf8");
					this.#mails.push({
						to: session.envelope.rcptTo.map((recipient) => recipient.address.toLowerCase()),
						raw,
						text: decodeQuotedPrintable(raw),
					});
					for (const wake of this.#waiting) wake();
					callback();
				});
			},
		});
	}

	async start(): Promise<this> {
		await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
		this.port = (this.#server.server.address() as AddressInfo).port;
		return this;
	}

	get url(): string {
		return `smtp://127.0.0.1:${this.port}`;
	}

	/** Every mail to `address` so far. */
	mailsTo(address: string): CaughtMail[] {
		return this.#mails.filter((mail) => mail.to.includes(address.toLowerCase()));
	}

	/** The `count`th mail to `address` (1 = the first), once it has arrived. */
	async mailTo(address: string, count = 1): Promise<CaughtMail> {
		for (;;) {
			const mail = this.mailsTo(address)[count - 1];
			if (mail !== undefined) return mail;
			await new Promise<void>((resolve) => {
				const wake = () => {
					this.#waiting.delete(wake);
					resolve();
				};
				this.#waiting.add(wake);
			});
		}
	}

	close(): Promise<void> {
		return new Promise((resolve) => this.#server.close(() => resolve()));
	}
}

/** Sets the password through a set-password link's token over the API, as the page does; the last answer. */
export async function setPasswordWithToken(
	issuer: string,
	token: string,
	password: string,
): Promise<Response> {
	await opaque.ready;
	const { clientRegistrationState, registrationRequest } = opaque.client.startRegistration({
		password,
	});
	const started = await fetch(`${issuer}/identity/password/start`, {
		method: "POST",
		headers: { "content-type": "application/json" },
		body: JSON.stringify({ token, registration_request: registrationRequest }),
	});
	// A refused link is refused at the first step: that answer is the outcome.
	if (!started.ok) return started;
	const { registration_response: registrationResponse } = (await started.json()) as {
		registration_response: string;
	};
	const { registrationRecord } = opaque.client.finishRegistration({
		clientRegistrationState,
		registrationResponse,
		password,
	});
	return fetch(`${issuer}/identity/password/finish`, {
		method: "POST",
		headers: { "content-type": "application/json" },
		body: JSON.stringify({ token, registration_record: registrationRecord }),
	});
}

/** The token in a set-password (or any identity) link's fragment. */
export const tokenOf = (link: string) =>
	new URLSearchParams(new URL(link).hash.slice(1)).get("token") ?? "";
