/**
 * The account flows by mail with nothing configured (what `npm start` gives): mails go to data/mail as
 * .eml files, their links logged in dev mode, and a new user can sign up from them alone. The sign-up
 * policy (open, invite-only, closed), and requests about unknown addresses answered like known ones;
 * and the pages' configurable logo.
 * @see issue 15
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as opaque from "@serenity-kit/opaque";
import { afterEach, describe, expect, it } from "vitest";
import { buildTestApp, type TestApp } from "../support/build-test-app.ts";
import { runTollgate } from "../support/cli.ts";
import {
	type CaughtMail,
	decodeQuotedPrintable,
	linkIn,
	setPasswordWithToken,
	tokenOf,
} from "../support/identity.ts";

const PASSWORD = "correct horse battery staple";

describe("identity mail with no SMTP server configured", () => {
	let testApp: TestApp | undefined;
	afterEach(async () => {
		await testApp?.close();
		testApp = undefined;
	});

	/** An app listening on a free loopback port, that address its issuer. */
	async function listening(identity: Record<string, unknown> = {}) {
		const probe = createServer();
		await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
		const port = (probe.address() as AddressInfo).port;
		await new Promise((resolve) => probe.close(resolve));
		const issuer = `http://127.0.0.1:${port}`;
		testApp = await buildTestApp({ http: { port }, identity: { issuer, ...identity } });
		await testApp.app.listen({ host: "127.0.0.1", port });
		return { app: testApp, issuer };
	}

	async function post(issuer: string, path: string, body: unknown) {
		const response = await fetch(`${issuer}${path}`, {
			method: "POST",
			headers: { "content-type": "application/json" },
			body: JSON.stringify(body),
		});
		return { status: response.status, body: (await response.json()) as Record<string, unknown> };
	}

	/** The .eml files written so far, oldest first, once there are `count` of them. */
	async function mailFiles(app: TestApp, count: number): Promise<CaughtMail[]> {
		const dir = join(app.config.data_dir, "mail");
		for (;;) {
			const names = (await readdir(dir).catch(() => []))
				.filter((name) => name.endsWith(".eml"))
				.sort();
			if (names.length >= count)
				return Promise.all(
					names.map(async (name) => {
						const raw = await readFile(join(dir, name), "utf8");
						const to = /^To: (.*)$/m.exec(raw)?.[1]?.trim() ?? "";
						return { to: [to], raw, text: decodeQuotedPrintable(raw) };
					}),
				);
			await new Promise((resolve) => setTimeout(resolve, 25));
		}
	}

	/** An account signed up through the mailed link, its password PASSWORD (the first mail of the app). */
	async function signedUp(app: TestApp, issuer: string, email: string) {
		await post(issuer, "/identity/signup", { email });
		const [confirmation] = await mailFiles(app, 1);
		const link = linkIn(confirmation as CaughtMail, "set-password");
		expect((await setPasswordWithToken(issuer, tokenOf(link), PASSWORD)).status).toBe(200);
	}

	it("a sign-up's confirmation is written to data/mail as .eml (text and HTML), its link logged in dev mode; the link makes the account once", async () => {
		const { app, issuer } = await listening();
		expect(await post(issuer, "/identity/signup", { email: "Solo@Example.org" })).toEqual({
			status: 202,
			body: { status: "mail_sent" },
		});
		const [confirmation] = await mailFiles(app, 1);
		expect(confirmation?.to).toEqual(["solo@example.org"]);
		expect(confirmation?.text).toContain("Content-Type: text/plain");
		expect(confirmation?.text).toContain("Content-Type: text/html");
		const link = linkIn(confirmation as CaughtMail, "set-password");
		expect(
			app.logs().some((line) => line.link === link && String(line.file).endsWith(".eml")),
		).toBe(true);
		const finished = await setPasswordWithToken(issuer, tokenOf(link), PASSWORD);
		expect(finished.status).toBe(200);
		expect(await finished.json()).toEqual({ continue_to: null });
		const shown = await runTollgate(["identity", "users", "show", "solo@example.org"], {
			TOLLGATE_DATA_DIR: app.config.data_dir,
			TOLLGATE_DEV: "1",
		});
		expect(JSON.parse(shown.stdout)).toMatchObject({
			email: "solo@example.org",
			email_verified: true,
		});
		// The link is spent.
		expect((await setPasswordWithToken(issuer, tokenOf(link), PASSWORD)).status).toBe(400);
	});

	it("a reset by mail signs the account out of the account page in every browser", async () => {
		const { app, issuer } = await listening();
		await signedUp(app, issuer, "reset@example.org");
		const { clientLoginState, startLoginRequest } = opaque.client.startLogin({
			password: PASSWORD,
		});
		const started = await post(issuer, "/identity/login/start", {
			email: "reset@example.org",
			start_login_request: startLoginRequest,
		});
		const signedIn = await fetch(`${issuer}/identity/account/login`, {
			method: "POST",
			headers: { "content-type": "application/json" },
			body: JSON.stringify({
				login_id: started.body.login_id,
				finish_login_request: opaque.client.finishLogin({
					clientLoginState,
					loginResponse: String(started.body.login_response),
					password: PASSWORD,
				})?.finishLoginRequest,
			}),
		});
		expect(signedIn.status).toBe(200);
		const cookie = (signedIn.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
		expect(cookie).toMatch(/^tollgate_account=/);
		const account = () =>
			fetch(`${issuer}/identity/account`, {
				headers: { cookie, accept: "application/json" },
			}).then((response) => response.status);
		expect(await account()).toBe(200);

		app.clock.advanceMs(1);
		await post(issuer, "/identity/password/reset", { email: "reset@example.org" });
		const [, reset] = await mailFiles(app, 2);
		const finished = await setPasswordWithToken(
			issuer,
			tokenOf(linkIn(reset as CaughtMail, "set-password")),
			"a replacement passphrase",
		);
		expect(finished.status).toBe(200);
		expect(await account()).toBe(401);
	});

	it("a link past identity.mail_link_minutes is refused and makes nothing", async () => {
		const { app, issuer } = await listening({ mail_link_minutes: 30 });
		await post(issuer, "/identity/signup", { email: "late@example.org" });
		const [confirmation] = await mailFiles(app, 1);
		expect(confirmation?.text).toContain("for 30 minutes");
		app.clock.advanceMs(30 * 60_000 + 1);
		const late = await setPasswordWithToken(
			issuer,
			tokenOf(linkIn(confirmation as CaughtMail, "set-password")),
			PASSWORD,
		);
		expect(late.status).toBe(400);
		expect(((await late.json()) as { error: string }).error).toBe("invalid_grant");
		const shown = await runTollgate(["identity", "users", "show", "late@example.org"], {
			TOLLGATE_DATA_DIR: app.config.data_dir,
			TOLLGATE_DEV: "1",
		});
		expect(shown.code).toBe(1);
	});

	it("unknown and known addresses get the same answer: a reset mails only an account's owner, a sign-up for a taken address mails a notice", async () => {
		const { app, issuer } = await listening();
		await signedUp(app, issuer, "owner@example.org");
		const unknown = await post(issuer, "/identity/password/reset", {
			email: "nobody@example.org",
		});
		const known = await post(issuer, "/identity/password/reset", { email: "owner@example.org" });
		expect(unknown).toEqual(known);
		expect(known).toEqual({ status: 202, body: { status: "mail_sent" } });
		const taken = await post(issuer, "/identity/signup", { email: "OWNER@example.org" });
		expect(taken).toEqual(known);
		const mails = await mailFiles(app, 3);
		expect(mails.map((mail) => mail.to[0])).toEqual([
			"owner@example.org",
			"owner@example.org",
			"owner@example.org",
		]);
		expect(mails.some((mail) => mail.text.includes("It already has one"))).toBe(true);
		expect(mails.some((mail) => mail.text.includes("Reset your password"))).toBe(true);
		// A continue_to that is not an authorization of ours is refused, naming the field.
		const elsewhere = await post(issuer, "/identity/password/reset", {
			email: "owner@example.org",
			continue_to: "https://evil.example/",
		});
		expect(elsewhere.status).toBe(400);
		expect(String(elsewhere.body.error_description)).toContain("continue_to");
	});

	it("closed sign-up refuses with 403; invite-only needs an invitation from the CLI, spent when its account is made", async () => {
		const closed = await listening({ signup: "closed" });
		const refused = await post(closed.issuer, "/identity/signup", { email: "a@example.org" });
		expect(refused.status).toBe(403);
		expect(String(refused.body.error_description)).toContain("closed");
		await closed.app.close();

		const { app, issuer } = await listening({ signup: "invite" });
		expect((await post(issuer, "/identity/signup", { email: "b@example.org" })).status).toBe(403);
		expect(
			(await post(issuer, "/identity/signup", { email: "b@example.org", invite: "made-up" })).body
				.error,
		).toBe("invalid_grant");
		const invited = await runTollgate(["identity", "invite"], {
			TOLLGATE_DATA_DIR: app.config.data_dir,
			TOLLGATE_DEV: "1",
			TOLLGATE_IDENTITY_ISSUER: issuer,
			TOLLGATE_IDENTITY_SIGNUP: "invite",
		});
		expect(invited.code, invited.stderr).toBe(0);
		const inviteUrl = /invite_url: (\S+)/.exec(invited.stdout)?.[1] ?? "";
		expect(new URL(inviteUrl).pathname).toBe("/identity/sign-up");
		const invite = new URLSearchParams(new URL(inviteUrl).hash.slice(1)).get("invite");
		// Two sign-ups with one invitation: both are mailed, only the first confirmed makes an account.
		await post(issuer, "/identity/signup", { email: "b@example.org", invite });
		await post(issuer, "/identity/signup", { email: "c@example.org", invite });
		const mails = await mailFiles(app, 2);
		const linkTo = (address: string) =>
			linkIn(mails.find((mail) => mail.to[0] === address) as CaughtMail, "set-password");
		expect(
			(await setPasswordWithToken(issuer, tokenOf(linkTo("c@example.org")), PASSWORD)).status,
		).toBe(200);
		const second = await setPasswordWithToken(issuer, tokenOf(linkTo("b@example.org")), PASSWORD);
		expect(second.status).toBe(400);
		expect(((await second.json()) as { error_description: string }).error_description).toContain(
			"invitation",
		);
	});
});

describe("the identity pages' logo", () => {
	it("is the operator's file when identity.logo_file is set, with its type; a file of another kind stops the start", async () => {
		const dir = await mkdtemp(join(tmpdir(), "tollgate-logo-"));
		const png = Buffer.from("89504e470d0a1a0a0000000d49484452", "hex");
		await writeFile(join(dir, "logo.png"), png);
		await writeFile(join(dir, "logo.gif"), "GIF89a");
		const app = await buildTestApp({ identity: { logo_file: join(dir, "logo.png") } });
		try {
			const logo = await app.app.inject({ method: "GET", url: "/identity/logo" });
			expect(logo.statusCode).toBe(200);
			expect(logo.headers["content-type"]).toBe("image/png");
			expect(logo.rawPayload.equals(png)).toBe(true);
			const page = await app.app.inject({ method: "GET", url: "/identity/sign-up" });
			expect(page.body).toContain('src="/identity/logo"');
		} finally {
			await app.close();
		}
		await expect(buildTestApp({ identity: { logo_file: join(dir, "logo.gif") } })).rejects.toThrow(
			/identity\.logo_file: .*logo\.gif must be an \.svg or \.png file/,
		);
		await rm(dir, { recursive: true, force: true });
	});
});
