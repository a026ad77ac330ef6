/**
 * The mail the account flows send, and where it goes: to an SMTP server through nodemailer when
 * `identity.smtp_url` is set; otherwise (the embedded default) composed by nodemailer all the same and
 * written to `<data_dir>/mail/` as .eml files, with its link logged in dev mode, so `npm start` alone can
 * sign a user up. Sending never holds up the answer to the request that caused it (an unknown address
 * must be answered as fast as a known one); a failure is logged.
 */
import { randomBytes } from "node:crypto";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import nodemailer from "nodemailer";
import type { Logger } from "pino";
import { escapeHtml } from "./pages.ts";

export interface OutgoingMail {
	readonly to: string;
	readonly subject: string;
	/** Paragraphs of plain text; the HTML part is made from the same. */
	readonly paragraphs: readonly string[];
	/** The one action the mail is about, if any. */
	readonly link?: { readonly label: string; readonly url: string };
}

export interface Mailer {
	/** Hands the mail over in the background. */
	send(mail: OutgoingMail): void;
	/** Resolves once every mail handed over has been sent or has failed (for a clean stop). */
	idle(): Promise<void>;
}

function textOf(mail: OutgoingMail, serviceName: string): string {
	const link = mail.link === undefined ? [] : [`${mail.link.label}:\n${mail.link.url}`];
	return [...mail.paragraphs, ...link, `— ${serviceName}`].join("\n\n").concat("\n");
}

function htmlOf(mail: OutgoingMail, serviceName: string): string {
	const paragraphs = mail.paragraphs.map((text) => `<p>${escapeHtml(text)}</p>`);
	const link =
		mail.link === undefined
			? []
			: [
					`<p><a href="${escapeHtml(mail.link.url)}">${escapeHtml(mail.link.label)}</a></p>`,
					`<p style="color:#555;font-size:13px">Or copy this address into your browser: ${escapeHtml(mail.link.url)}</p>`,
				];
	return `<!doctype html><html><body style="font-family:system-ui,sans-serif;line-height:1.5;max-width:36rem">${[
		...paragraphs,
		...link,
		`<p style="color:#555">— ${escapeHtml(serviceName)}</p>`,
	].join("")}</body></html>`;
}

export function createMailer(options: {
	readonly smtpUrl: string | undefined;
	readonly from: string;
	readonly serviceName: string;
	readonly mailDir: string;
	readonly isDev: boolean;
	readonly logger: Logger;
}): Mailer {
	const { logger, serviceName } = options;
	const transport =
		options.smtpUrl === undefined
			? nodemailer.createTransport({ streamTransport: true, buffer: true, newline: "unix" })
			: nodemailer.createTransport(options.smtpUrl);
	const pending = new Set<Promise<void>>();

	const deliver = async (mail: OutgoingMail): Promise<void> => {
		const info = await transport.sendMail({
			from: options.from,
			to: mail.to,
			subject: mail.subject,
			text: textOf(mail, serviceName),
			html: htmlOf(mail, serviceName),
			// Readable as it is, in any mail client's source view and in the .eml files.
			textEncoding: "quoted-printable",
		});
		if (options.smtpUrl !== undefined) return;
		// The composed message, written whole under a temporary name first: no reader sees half a mail.
		await mkdir(options.mailDir, { recursive: true, mode: 0o700 });
		const name = `${new Date().toISOString().replace(/[:.]/g, "-")}-${randomBytes(4).toString("hex")}.eml`;
		const path = join(options.mailDir, name);
		await writeFile(`${path}.tmp`, (info as { message: Buffer }).message, { mode: 0o600 });
		await rename(`${path}.tmp`, path);
		if (options.isDev)
			logger.info({ file: path, link: mail.link?.url }, "mail written (dev mode: its link)");
		else logger.info({ file: path }, "mail written (no identity.smtp_url set)");
	};

	return {
		send(mail) {
			const sending = deliver(mail)
				.catch((error: unknown) => {
					logger.error({ err: error, subject: mail.subject }, "a mail could not be sent");
				})
				.finally(() => pending.delete(sending));
			pending.add(sending);
		},
		async idle() {
			await Promise.all([...pending]);
		},
	};
}
