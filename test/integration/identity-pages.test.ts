/**
 * The identity pages in a real browser (Debian's chromium, driven by playwright-core), mail through a real
 * SMTP server on loopback (npm smtp-server), a relying party on openid-client: set a password from an
 * operator's link; sign up by mail, sign in with OPAQUE, consent, land on the relying party with a valid
 * id_token; a wrong password refused and counted; reset by mail; change the e-mail address; add a passkey
 * (Chromium's virtual authenticator over CDP) and sign in with it; see and revoke an app's access; delete
 * the account after a step-up. No request the browser makes carries the password. Each page is
 * photographed at 360 px and 1280 px into test/output/identity-pages/.
 * @see issue 15
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as client from "openid-client";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestApp, type TestApp } from "../support/build-test-app.ts";
import { hasChromium, JOURNEY_MS, launchChromium } from "../support/chromium.ts";
import { runTollgate } from "../support/cli.ts";
import { linkIn, MailCatcher, setPasswordWithToken, tokenOf } from "../support/identity.ts";

const PASSWORD = "correct horse battery staple";
const SCREENSHOTS = join(import.meta.dirname, "..", "output", "identity-pages");
/** Wrong passwords one account may try per window here (the default is 10). */
const ATTEMPTS_PER_ACCOUNT = 5;

/** A relying party on loopback: /login starts an authorization with PKCE, /callback redeems the code. */
async function startRelyingParty(issuer: string) {
	const state: {
		config?: client.Configuration;
		verifier?: string;
		idToken?: string | undefined;
		sub?: string | undefined;
	} = {};
	const server: Server = createServer(async (request, response) => {
		const url = new URL(request.url ?? "/", `http://${request.headers.host}`);
		try {
			state.config ??= await client.discovery(new URL(issuer), "portal", undefined, client.None(), {
				execute: [client.allowInsecureRequests],
			});
			if (url.pathname === "/login") {
				state.verifier = client.randomPKCECodeVerifier();
				const target = client.buildAuthorizationUrl(state.config, {
					redirect_uri: `${url.origin}/callback`,
					scope: "openid email",
					code_challenge: await client.calculatePKCECodeChallenge(state.verifier),
					code_challenge_method: "S256",
				});
				response.writeHead(302, { location: target.href }).end();
				return;
			}
			const tokens = await client.authorizationCodeGrant(state.config, url, {
				pkceCodeVerifier: state.verifier ?? "",
				idTokenExpected: true,
			});
			state.idToken = tokens.id_token;
			state.sub = tokens.claims()?.sub;
			response
				.writeHead(200, { "content-type": "text/html; charset=utf-8" })
				.end(`<!doctype html><title>Portal</title><h1>Signed in as ${state.sub}</h1>`);
		} catch (error) {
			response.writeHead(500, { "content-type": "text/plain" }).end(String(error));
		}
	});
	await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
	const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
	return { origin, state, close: () => new Promise((resolve) => server.close(resolve)) };
}

describe.skipIf(!hasChromium)("identity pages in Chromium", () => {
	let dir: string;
	let testApp: TestApp;
	let issuer: string;
	let browser: Browser;
	let relyingParty: Awaited<ReturnType<typeof startRelyingParty>>;
	let mail: MailCatcher;
	const env = () => ({
		TOLLGATE_DATA_DIR: dir,
		TOLLGATE_IDENTITY_ISSUER: issuer,
		TOLLGATE_DEV: "1",
	});

	beforeAll(async () => {
		dir = await mkdtemp(join(tmpdir(), "tollgate-pages-"));
		await mkdir(SCREENSHOTS, { recursive: true });
		const probe = createServer();
		await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
		const port = (probe.address() as AddressInfo).port;
		await new Promise((resolve) => probe.close(resolve));
		issuer = `http://localhost:${port}`;
		mail = await new MailCatcher().start();
		testApp = await buildTestApp({
			data_dir: dir,
			dev: true,
			http: { port },
			identity: {
				issuer,
				service_name: "Research Portal",
				smtp_url: mail.url,
				attempts_per_account: ATTEMPTS_PER_ACCOUNT,
				attempts_per_address: 1_000,
			},
		});
		testApp.clock.advanceMs(Date.now() - testApp.clock.nowMs());
		await testApp.app.listen({ host: "localhost", port });
		relyingParty = await startRelyingParty(issuer);
		browser = await launchChromium();
		const registered = await runTollgate(
			["identity", "clients", "add", "portal", "--redirect-uri", `${relyingParty.origin}/callback`],
			env(),
		);
		expect(registered.code, registered.stderr).toBe(0);
	});
	afterAll(async () => {
		await browser?.close();
		await relyingParty?.close();
		await testApp?.close();
		await mail?.close();
		await rm(dir, { recursive: true, force: true });
	});

	/**
	 * A fresh browser profile whose every request (URL and body) is kept, to look for passwords in, and
	 * whose Content-Security-Policy complaints are collected.
	 */
	async function recordedPage(): Promise<{ page: Page; sent: string[]; violations: string[] }> {
		const context = await browser.newContext({ viewport: { width: 360, height: 800 } });
		const page = await context.newPage();
		const sent: string[] = [];
		const violations: string[] = [];
		page.on("request", (request) => sent.push(`${request.url()}\n${request.postData() ?? ""}`));
		page.on("console", (message) => {
			if (/Content Security Policy|Refused to/.test(message.text()))
				violations.push(message.text());
		});
		return { page, sent, violations };
	}

	/** No request carried any of the passwords, raw or form-encoded; the pages broke no CSP rule. */
	function expectNoPasswordSent(
		recorded: { sent: string[]; violations: string[] },
		passwords: string[],
	) {
		expect(recorded.sent.length).toBeGreaterThan(3);
		for (const request of recorded.sent)
			for (const password of passwords) {
				expect(request).not.toContain(password);
				expect(request).not.toContain(new URLSearchParams({ p: password }).toString().slice(2));
			}
		expect(recorded.violations).toEqual([]);
	}

	async function screenshot(page: Page, name: string) {
		for (const width of [360, 1280]) {
			await page.setViewportSize({ width, height: 800 });
			await page.screenshot({ path: join(SCREENSHOTS, `${name}-${width}.png`), fullPage: true });
			// Nothing may stick out sideways at either width.
			expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(
				width,
			);
		}
		await page.setViewportSize({ width: 360, height: 800 });
	}

	/** An account made by the operator, its password set through the link over the API. */
	async function accountWithPassword(email: string, password: string): Promise<string> {
		const added = await runTollgate(["identity", "users", "add", email], env());
		expect(added.code, added.stderr).toBe(0);
		const link = /set_password_url: (\S+)/.exec(added.stdout)?.[1] ?? "";
		expect((await setPasswordWithToken(issuer, tokenOf(link), password)).status).toBe(200);
		return /user_id: (\S+)/.exec(added.stdout)?.[1] ?? "";
	}

	async function signInOnPage(page: Page, email: string, password: string) {
		await page.getByLabel("E-mail address").fill(email);
		await page.getByLabel("Password", { exact: true }).fill(password);
		await page.getByRole("button", { name: "Sign in", exact: true }).click();
	}

	/**
	 * Chromium's virtual authenticator (CDP), verifying the user by itself: a platform authenticator whose
	 * credentials stay on the device, or (`isSynced`) ones backed up like a synced passkey's.
	 */
	async function addVirtualAuthenticator(page: Page, { isSynced }: { isSynced: boolean }) {
		const cdp = await page.context().newCDPSession(page);
		await cdp.send("WebAuthn.enable");
		await cdp.send("WebAuthn.addVirtualAuthenticator", {
			options: {
				protocol: "ctap2",
				transport: "internal",
				hasResidentKey: true,
				hasUserVerification: true,
				isUserVerified: true,
				automaticPresenceSimulation: true,
				defaultBackupEligibility: isSynced,
				defaultBackupState: isSynced,
			},
		});
	}

	/** What the relying party's last id_token says. */
	function relyingPartyClaims(): Record<string, unknown> {
		return JSON.parse(
			Buffer.from(relyingParty.state.idToken?.split(".")[1] ?? "", "base64url").toString(),
		) as Record<string, unknown>;
	}

	it(
		"set a password from the operator's link, sign in with OPAQUE, consent once, land on the relying party with a valid id_token; the password is never sent",
		async () => {
			const added = await runTollgate(
				["identity", "users", "add", "researcher@example.org", "--name", "Ada"],
				env(),
			);
			expect(added.code, added.stderr).toBe(0);
			const link = /set_password_url: (\S+)/.exec(added.stdout)?.[1] ?? "";
			const recorded = await recordedPage();
			const { page } = recorded;
			await page.goto(link);
			await expect.poll(() => page.title()).toBe("Set your password · Research Portal");
			await screenshot(page, "set-password");
			await page.getByLabel("New password", { exact: true }).fill(PASSWORD);
			await page.getByLabel("New password again").fill(PASSWORD);
			await page.getByRole("button", { name: "Set password" }).click();
			await page.getByText("Your password is set").waitFor();
			// The link worked once: opened again, it is refused on the page.
			await page.goto(link);
			await page.reload();
			await page.getByLabel("New password", { exact: true }).fill(PASSWORD);
			await page.getByLabel("New password again").fill(PASSWORD);
			await page.getByRole("button", { name: "Set password" }).click();
			await expect.poll(() => page.getByRole("alert").textContent()).toContain("link");

			await page.goto(`${relyingParty.origin}/login`);
			await page.getByRole("heading", { name: "Sign in" }).waitFor();
			await screenshot(page, "sign-in");
			await signInOnPage(page, "researcher@example.org", "not the password at all");
			await expect
				.poll(() => page.getByRole("alert").textContent())
				.toBe("The e-mail address or password is not right.");
			await screenshot(page, "sign-in-wrong-password");
			await signInOnPage(page, "researcher@example.org", PASSWORD);
			// The portal is not first-party: the user is asked, once.
			await page.getByRole("heading", { name: "Allow portal?" }).waitFor();
			await expect
				.poll(() => page.getByRole("listitem").allTextContents())
				.toEqual(["Know it is you: an identifier for your account", "See your e-mail address"]);
			await screenshot(page, "consent");
			await page.getByRole("button", { name: "Allow" }).click();
			await page.getByRole("heading", { name: /^Signed in as / }).waitFor();
			expect(relyingPartyClaims()).toMatchObject({
				iss: issuer,
				aud: "portal",
				sub: /user_id: (\S+)/.exec(added.stdout)?.[1],
				amr: ["pwd"],
			});
			// Signed in and consented: the next authorization goes straight through.
			relyingParty.state.idToken = undefined;
			await page.goto(`${relyingParty.origin}/login`);
			await page.getByRole("heading", { name: /^Signed in as / }).waitFor();
			expect(relyingPartyClaims()).toMatchObject({ aud: "portal" });
			expectNoPasswordSent(recorded, [PASSWORD, "not the password at all"]);

			// With scripts off, the form still sends no password anywhere when submitted.
			const scriptless = await browser.newContext({ javaScriptEnabled: false });
			const bare = await scriptless.newPage();
			const bareSent: string[] = [];
			bare.on("request", (request) =>
				bareSent.push(`${request.url()}\n${request.postData() ?? ""}`),
			);
			await bare.goto(`${relyingParty.origin}/login`);
			await signInOnPage(bare, "researcher@example.org", PASSWORD);
			await bare.waitForLoadState();
			expectNoPasswordSent({ sent: bareSent, violations: [] }, [PASSWORD]);
			await scriptless.close();
		},
		JOURNEY_MS,
	);

	it(
		"sign up from the sign-in page (a double click sends once): the confirmation mail arrives over SMTP, its link sets the password and goes back to the authorization, consent, the relying party holds an id_token; a second sign-up with the address looks the same and its mail says so",
		async () => {
			const email = "newcomer@example.org";
			const password = "a new and long passphrase";
			const recorded = await recordedPage();
			const { page } = recorded;
			await page.goto(`${relyingParty.origin}/login`);
			await page.getByRole("link", { name: "Create an account" }).click();
			await page.getByRole("heading", { name: "Create an account" }).waitFor();
			await screenshot(page, "sign-up");
			await page.getByLabel("E-mail address").fill(email);
			await page.getByLabel("Your name").fill("Nova Newcomer");
			// A double click sends the form once.
			await page.getByRole("button", { name: "Send me the link" }).dblclick();
			await page.getByRole("heading", { name: "Check your mail" }).waitFor();
			expect(
				recorded.sent.filter((request) => request.startsWith(`${issuer}/identity/signup\n`)),
			).toHaveLength(1);
			await screenshot(page, "check-mail");

			const confirmation = await mail.mailTo(email);
			expect(confirmation.text).toContain("Subject: Confirm your address for Research Portal");
			expect(confirmation.text).toContain("text/html");
			await page.goto(linkIn(confirmation, "set-password"));
			await page.getByLabel("New password", { exact: true }).fill(password);
			await page.getByLabel("New password again").fill(password);
			await page.getByRole("button", { name: "Set password" }).click();
			await page.getByRole("link", { name: "Continue signing in" }).click();
			await page.getByRole("heading", { name: "Sign in" }).waitFor();
			await signInOnPage(page, email, password);
			await page.getByRole("button", { name: "Allow" }).click();
			await page.getByRole("heading", { name: /^Signed in as / }).waitFor();
			const shown = await runTollgate(["identity", "users", "show", email], env());
			const account = JSON.parse(shown.stdout) as Record<string, unknown>;
			expect(account).toMatchObject({ email, email_verified: true, display_name: "Nova Newcomer" });
			expect(relyingPartyClaims()).toMatchObject({ aud: "portal", sub: account.id, amr: ["pwd"] });

			// The same address again: the same page, and a mail that says it has an account.
			await page.goto(`${issuer}/identity/sign-up`);
			await page.getByLabel("E-mail address").fill(email.toUpperCase());
			await page.getByRole("button", { name: "Send me the link" }).click();
			await page.getByRole("heading", { name: "Check your mail" }).waitFor();
			const notice = await mail.mailTo(email, 2);
			expect(notice.text).toContain("It already has one, so nothing was created.");
			expect(notice.text).not.toContain("/identity/set-password");
			// The spent confirmation link: a clear refusal, and the account is unchanged.
			await page.goto(linkIn(confirmation, "set-password"));
			await page.getByLabel("New password", { exact: true }).fill("yet another passphrase");
			await page.getByLabel("New password again").fill("yet another passphrase");
			await page.getByRole("button", { name: "Set password" }).click();
			await expect
				.poll(() => page.getByRole("alert").textContent())
				.toContain("unknown, used or expired");
			expectNoPasswordSent(recorded, [password, "yet another passphrase"]);
		},
		JOURNEY_MS,
	);

	it(
		"a device's code: the pages oidc-provider renders look like ours, under the same CSP; confirm, sign in, the device is connected",
		async () => {
			await accountWithPassword("viewer@example.org", PASSWORD);
			const added = await runTollgate(
				[
					"identity",
					"clients",
					"add",
					"tv",
					"--grant-types",
					"urn:ietf:params:oauth:grant-type:device_code",
					"--first-party",
				],
				env(),
			);
			expect(added.code, added.stderr).toBe(0);
			const device = (await (
				await fetch(`${issuer}/oidc/device/auth`, {
					method: "POST",
					headers: { "content-type": "application/x-www-form-urlencoded" },
					body: new URLSearchParams({ client_id: "tv", scope: "openid" }).toString(),
				})
			).json()) as { verification_uri: string; user_code: string };
			const recorded = await recordedPage();
			const { page } = recorded;
			await page.goto(device.verification_uri);
			await page.getByRole("heading", { name: "Connect a device" }).waitFor();
			await screenshot(page, "device-code");
			await page.getByLabel("Code").fill(device.user_code);
			await page.getByRole("button", { name: "Continue" }).click();
			await page.getByText(device.user_code, { exact: true }).waitFor();
			await screenshot(page, "device-confirm");
			await page.getByRole("button", { name: "Continue" }).click();
			await signInOnPage(page, "viewer@example.org", PASSWORD);
			await page.getByRole("heading", { name: "Device connected" }).waitFor();
			await screenshot(page, "device-connected");
			expectNoPasswordSent(recorded, [PASSWORD]);
		},
		JOURNEY_MS,
	);

	it(
		"wrong passwords are refused on the page and count towards the account's limit: past it, the page says to wait",
		async () => {
			await accountWithPassword("forgetful@example.org", PASSWORD);
			const { page } = await recordedPage();
			await page.goto(`${relyingParty.origin}/login`);
			for (let attempt = 1; attempt <= ATTEMPTS_PER_ACCOUNT; attempt++) {
				await signInOnPage(page, "forgetful@example.org", `wrong guess ${attempt}`);
				await expect
					.poll(() => page.getByRole("alert").textContent())
					.toBe("The e-mail address or password is not right.");
				await page.getByRole("alert").evaluate((alert) => {
					alert.textContent = "";
				});
			}
			// Even the right password now waits: the limit counts attempts, not failures.
			await signInOnPage(page, "forgetful@example.org", PASSWORD);
			await expect
				.poll(() => page.getByRole("alert").textContent())
				.toMatch(/^Too many attempts\. Try again in \d+ minutes?\.$/);
		},
		JOURNEY_MS,
	);

	it(
		"reset the password by mail, change it on the account page, then change the e-mail address after a password step-up: confirmed at the new address, told to the old; spent and tampered links change nothing",
		async () => {
			const email = "mover@example.org";
			await accountWithPassword(email, PASSWORD);
			const fresh = "the fresh replacement passphrase";
			const recorded = await recordedPage();
			const { page } = recorded;
			await page.goto(`${issuer}/identity/account`);
			await page.getByRole("link", { name: "Forgot your password?" }).click();
			await page.getByRole("heading", { name: "Reset your password" }).waitFor();
			await screenshot(page, "reset-password");
			await page.getByLabel("E-mail address of your account").fill(email);
			await page.getByRole("button", { name: "Send me the link" }).click();
			await page.getByRole("heading", { name: "Check your mail" }).waitFor();
			const reset = await mail.mailTo(email);
			expect(reset.text).toContain("Subject: Reset your Research Portal password");
			// A tampered token is refused on the page.
			await page.goto(`${linkIn(reset, "set-password")}x`);
			await page.getByLabel("New password", { exact: true }).fill(fresh);
			await page.getByLabel("New password again").fill(fresh);
			await page.getByRole("button", { name: "Set password" }).click();
			await expect
				.poll(() => page.getByRole("alert").textContent())
				.toContain("unknown, used or expired");
			await page.goto(linkIn(reset, "set-password"));
			await page.reload();
			await page.getByLabel("New password", { exact: true }).fill(fresh);
			await page.getByLabel("New password again").fill(fresh);
			await page.getByRole("button", { name: "Set password" }).click();
			await page.getByRole("link", { name: "Sign in to your account" }).click();
			// The old password is gone; the new one opens the account page.
			await signInOnPage(page, email, PASSWORD);
			await expect
				.poll(() => page.getByRole("alert").textContent())
				.toBe("The e-mail address or password is not right.");
			await signInOnPage(page, email, fresh);
			await page.getByRole("heading", { name: "Your account", exact: true }).waitFor();
			await expect.poll(() => page.locator("#email").textContent()).toBe(email);
			await screenshot(page, "account");

			// A password change on the account page, fresh from signing in: no question asked.
			const third = "a third and final passphrase";
			await page.getByLabel("New password", { exact: true }).fill(third);
			await page.getByLabel("New password again").fill(third);
			await page.getByRole("button", { name: "Change password" }).click();
			await page.getByText("Your password is changed.").waitFor();

			// Six minutes on, an e-mail change needs a fresh proof: the dialog asks for the password.
			testApp.clock.advanceMs(6 * 60_000);
			const moved = "moved@example.org";
			await page.getByLabel("New address").fill(moved);
			await page.getByRole("button", { name: "Send the link" }).click();
			await page.getByRole("heading", { name: "Confirm it is you" }).waitFor();
			await page.getByLabel("Password", { exact: true }).fill(fresh);
			await page.getByRole("button", { name: "Confirm", exact: true }).click();
			await expect
				.poll(() => page.locator("#step-up-status").textContent())
				.toBe("The e-mail address or password is not right.");
			await page.getByLabel("Password", { exact: true }).fill(third);
			await page.getByRole("button", { name: "Confirm", exact: true }).click();
			await page.getByText(`We sent a link to ${moved}`).waitFor();
			const confirmation = await mail.mailTo(moved);
			expect(confirmation.text).toContain(`instead of ${email}`);
			await page.goto(linkIn(confirmation, "confirm-email"));
			await page.reload();
			await screenshot(page, "confirm-email");
			await page.getByRole("button", { name: "Confirm the new address" }).click();
			await page.getByText(`Done: your account now uses ${moved}.`).waitFor();
			const notice = await mail.mailTo(email, 2);
			expect(notice.text).toContain(`now uses ${moved} instead of this address`);
			await page.getByRole("link", { name: "Go to your account" }).click();
			await expect.poll(() => page.locator("#email").textContent()).toBe(moved);
			// The confirmation link is spent: used again, a clear refusal and nothing changes.
			await page.goto(linkIn(confirmation, "confirm-email"));
			await page.reload();
			await page.getByRole("button", { name: "Confirm the new address" }).click();
			await expect
				.poll(() => page.getByRole("alert").textContent())
				.toContain("nothing was changed");
			// A lost authorization is a page that says so, not a JSON error.
			await page.goto(`${issuer}/identity/interaction/no-such-sign-in`);
			await page.getByRole("heading", { name: "This sign-in has expired" }).waitFor();
			await screenshot(page, "error");
			expectNoPasswordSent(recorded, [PASSWORD, fresh, third]);
		},
		JOURNEY_MS,
	);

	it(
		"a synced passkey (backed up, as a phone's or a password manager's) signs in with amr swk",
		async () => {
			const email = "synced@example.org";
			const userId = await accountWithPassword(email, PASSWORD);
			const { page } = await recordedPage();
			await addVirtualAuthenticator(page, { isSynced: true });
			await page.goto(`${issuer}/identity/account`);
			await signInOnPage(page, email, PASSWORD);
			await page.getByRole("heading", { name: "Your account", exact: true }).waitFor();
			await page.getByRole("button", { name: "Add a passkey" }).click();
			await page.getByText("The passkey is added.").waitFor();
			await page.goto(`${relyingParty.origin}/login`);
			await page.getByRole("button", { name: "Sign in with a passkey" }).click();
			await page.getByRole("button", { name: "Allow" }).click();
			await page.getByRole("heading", { name: /^Signed in as / }).waitFor();
			expect(relyingPartyClaims()).toMatchObject({ sub: userId, amr: ["swk"] });
		},
		JOURNEY_MS,
	);

	it(
		"add a passkey on the account page (virtual authenticator), sign in to the relying party with it (amr hwk), revoke the app's access and end the browser's session, delete the account after a passkey step-up",
		async () => {
			const email = "keyholder@example.org";
			const userId = await accountWithPassword(email, PASSWORD);
			const recorded = await recordedPage();
			const { page } = recorded;
			await addVirtualAuthenticator(page, { isSynced: false });
			await page.goto(`${issuer}/identity/account`);
			await signInOnPage(page, email, PASSWORD);
			await page.getByRole("heading", { name: "Your account", exact: true }).waitFor();
			await page.getByLabel("Name of the new passkey").fill("Laptop");
			await page.getByRole("button", { name: "Add a passkey" }).click();
			await page.getByText("The passkey is added.").waitFor();
			await expect.poll(() => page.locator("#passkeys").textContent()).toContain("Laptop");
			await page.getByRole("button", { name: "Sign out", exact: true }).click();
			await page.getByRole("heading", { name: "Sign in" }).waitFor();

			await page.goto(`${relyingParty.origin}/login`);
			await page.getByRole("button", { name: "Sign in with a passkey" }).click();
			await page.getByRole("button", { name: "Allow" }).click();
			await page.getByRole("heading", { name: /^Signed in as / }).waitFor();
			expect(relyingPartyClaims()).toMatchObject({ sub: userId, amr: ["hwk"], aud: "portal" });

			// The account page lists the browser's session and the portal's grant; revoking takes it away.
			await page.goto(`${issuer}/identity/account`);
			await page.getByRole("button", { name: "Sign in with a passkey" }).click();
			await page.getByRole("heading", { name: "Your account", exact: true }).waitFor();
			await expect
				.poll(() => page.locator("#grants").textContent())
				.toContain("portal: openid, email");
			await expect.poll(() => page.locator("#sessions").textContent()).toContain("portal");
			await page.getByRole("button", { name: /^Revoke: portal/ }).click();
			await expect.poll(() => page.locator("#grants").textContent()).toBe("No app has access.");
			await page.getByRole("button", { name: /^Sign out: Signed in/ }).click();
			await expect
				.poll(() => page.locator("#sessions").textContent())
				.toBe("No browser is signed in to apps.");

			// Six minutes on, deleting needs a fresh proof: the dialog asks, the passkey gives it.
			testApp.clock.advanceMs(6 * 60_000);
			await page.getByLabel("I want my account deleted").check();
			await page.getByRole("button", { name: "Delete my account" }).click();
			await page.getByRole("heading", { name: "Confirm it is you" }).waitFor();
			await screenshot(page, "step-up");
			await page.getByRole("button", { name: "Use a passkey" }).click();
			await page.getByText("Your account is deleted.").waitFor();
			const shown = await runTollgate(["identity", "users", "show", email], env());
			expect(shown.code).toBe(1);
			// Nothing of the account is left with the provider: its sessions, grants and tokens are gone.
			const left = await testApp.storage.sql.db
				.withTables<{ identity_oidc_models: { account_id: string | null } }>()
				.selectFrom("identity_oidc_models")
				.select("account_id")
				.where("account_id", "=", userId)
				.execute();
			expect(left).toEqual([]);
			expectNoPasswordSent(recorded, [PASSWORD]);
		},
		JOURNEY_MS,
	);
});
