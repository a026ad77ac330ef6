/**
 * The identity pages in a real browser (Debian's chromium, driven by playwright-core): an account's owner
 * opens the set-password link, sets a password (OPAQUE registration in the page), then a relying party
 * (openid-client) sends them to sign in; a wrong password is refused on the page, the right one lands them
 * back on the relying party holding a valid id_token. No request the browser makes carries the password.
 * Each page is photographed at 360 px and 1280 px into test/output/identity-pages/.
 * @see issue 15
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as client from "openid-client";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestApp, type TestApp } from "../support/build-test-app.ts";
import { runTollgate } from "../support/cli.ts";

const CHROMIUM = "/usr/bin/chromium";
const PASSWORD = "correct horse battery staple";
/** The password as a form or query string would carry it (spaces as +). */
const FORM_ENCODED_PASSWORD = new URLSearchParams({ p: PASSWORD }).toString().slice(2);
const SCREENSHOTS = join(import.meta.dirname, "..", "output", "identity-pages");
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium && process.env.CI === "true")
	throw new Error(`CI needs ${CHROMIUM} (.ci/run installs Debian's chromium)`);

/** Flags for this machine's closed network (env docs): no background connections, no sandbox as root. */
const CHROMIUM_ARGS = [
	"--headless",
	"--no-sandbox",
	"--disable-gpu",
	"--disable-quic",
	"--no-first-run",
	"--disable-background-networking",
	"--disable-component-update",
	"--disable-sync",
];

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
		issuer = `http://127.0.0.1:${port}`;
		testApp = await buildTestApp({
			data_dir: dir,
			dev: true,
			http: { port },
			identity: { issuer, service_name: "Research Portal" },
		});
		testApp.clock.advanceMs(Date.now() - testApp.clock.nowMs());
		await testApp.app.listen({ host: "127.0.0.1", port });
		relyingParty = await startRelyingParty(issuer);
		browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
	});
	afterAll(async () => {
		await browser?.close();
		await relyingParty?.close();
		await testApp?.close();
		await rm(dir, { recursive: true, force: true });
	});

	/** A page whose every request (URL and body) is kept, to look for the password in. */
	async function recordedPage(width: number): Promise<{ page: Page; sent: string[] }> {
		const context = await browser.newContext({ viewport: { width, height: 800 } });
		const page = await context.newPage();
		const sent: string[] = [];
		page.on("request", (request) => sent.push(`${request.url()}\n${request.postData() ?? ""}`));
		return { page, sent };
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
	}

	it("set a password from the link, then sign in with OPAQUE and land on the relying party with a valid id_token; the password is never sent", async () => {
		const added = await runTollgate(
			["identity", "users", "add", "researcher@example.org", "--name", "Ada"],
			env(),
		);
		expect(added.code, added.stderr).toBe(0);
		const link = /set_password_url: (\S+)/.exec(added.stdout)?.[1] ?? "";
		const registered = await runTollgate(
			["identity", "clients", "add", "portal", "--redirect-uri", `${relyingParty.origin}/callback`],
			env(),
		);
		expect(registered.code, registered.stderr).toBe(0);

		const { page, sent } = await recordedPage(360);
		const violations: string[] = [];
		page.on("console", (message) => {
			if (/Content Security Policy|Refused to/.test(message.text()))
				violations.push(message.text());
		});
		await page.goto(link);
		await expect.poll(() => page.title()).toBe("Set your password · Research Portal");
		await screenshot(page, "set-password");
		await page.getByLabel("New password", { exact: true }).fill(PASSWORD);
		await page.getByLabel("New password again").fill(PASSWORD);
		await page.getByRole("button", { name: "Set password" }).click();
		await page.getByText("Your password is set").waitFor();
		// The link worked once: opened again, it is refused on the page.
		await page.goto(link);
		await page.getByLabel("New password", { exact: true }).fill(PASSWORD);
		await page.getByLabel("New password again").fill(PASSWORD);
		await page.getByRole("button", { name: "Set password" }).click();
		await expect.poll(() => page.getByRole("alert").textContent()).toContain("link");

		await page.goto(`${relyingParty.origin}/login`);
		await page.getByRole("heading", { name: "Sign in" }).waitFor();
		await screenshot(page, "sign-in");
		await page.getByLabel("E-mail address").fill("researcher@example.org");
		await page.getByLabel("Password").fill("not the password at all");
		await page.getByRole("button", { name: "Sign in" }).click();
		await expect
			.poll(() => page.getByRole("alert").textContent())
			.toBe("The e-mail address or password is not right.");
		await screenshot(page, "sign-in-wrong-password");
		await page.getByLabel("Password").fill(PASSWORD);
		await page.getByRole("button", { name: "Sign in" }).click();
		await page.getByRole("heading", { name: /^Signed in as / }).waitFor();

		const { state } = relyingParty;
		expect(state.sub).toBeDefined();
		const claims = JSON.parse(
			Buffer.from(state.idToken?.split(".")[1] ?? "", "base64url").toString(),
		) as Record<string, unknown>;
		expect(claims).toMatchObject({ iss: issuer, aud: "portal", sub: state.sub, amr: ["pwd"] });
		expect(sent.length).toBeGreaterThan(5);
		for (const request of sent) {
			expect(request).not.toContain(PASSWORD);
			expect(request).not.toContain("not the password at all");
			expect(request).not.toContain(FORM_ENCODED_PASSWORD);
		}
		expect(violations).toEqual([]);

		// With scripts off, the form still sends no password anywhere when submitted.
		const scriptless = await browser.newContext({ javaScriptEnabled: false });
		const bare = await scriptless.newPage();
		const bareSent: string[] = [];
		bare.on("request", (request) => bareSent.push(`${request.url()}\n${request.postData() ?? ""}`));
		await bare.goto(`${relyingParty.origin}/login`);
		await bare.getByLabel("E-mail address").fill("researcher@example.org");
		await bare.getByLabel("Password").fill(PASSWORD);
		await bare.getByRole("button", { name: "Sign in" }).click();
		await bare.waitForLoadState();
		expect(bareSent.length).toBeGreaterThan(2);
		for (const request of bareSent) {
			expect(request).not.toContain(FORM_ENCODED_PASSWORD);
			expect(request).not.toContain(PASSWORD);
		}
		await scriptless.close();
	});
});
