/**
 * The whole connect login in a real browser (Debian's chromium, driven by playwright-core), as the
 * ARCmanager frontend makes it: its page on another port of the same site calls
 * `window.location.assign(<api>/auth/login?datahub=…)`, the user signs in on the hub's (fake GitLab's)
 * page, and lands back on the frontend holding the JS-readable cookies and an HttpOnly session cookie its
 * scripts cannot read; its credentialed fetches (CORS) then reach the hub through Tollgate, refresh and log
 * out. No response the browser received sets a cookie carrying a token.
 * @see issue 16
 */
import { createServer, type Server } from "node:http";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasChromium, JOURNEY_MS, launchChromium } from "../support/chromium.ts";
import {
	ALICE,
	type ConnectStack,
	freePort,
	HUB,
	PREFIX,
	startConnectStack,
} from "../support/connect.ts";

/** A stand-in for the ARCmanager frontend on `port`: its login button (fetches run in its page). */
async function startFrontend(port: number, api: string) {
	const page = `<!doctype html><meta charset="utf-8"><title>ARCmanager</title>
<button onclick="window.location.assign('${api}/auth/login?datahub=${HUB}')">Login with Tübingen</button>`;
	const server: Server = createServer((_request, response) => {
		response.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(page);
	});
	await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
	return {
		origin: `http://localhost:${port}`,
		close: () => new Promise((resolve) => server.close(resolve)),
	};
}

describe.skipIf(!hasChromium)("connect login in Chromium", () => {
	let stack: ConnectStack;
	let frontend: Awaited<ReturnType<typeof startFrontend>>;
	let browser: Browser;

	beforeAll(async () => {
		const frontendPort = await freePort();
		const appOrigin = `http://localhost:${frontendPort}`;
		stack = await startConnectStack({
			host: "localhost",
			connect: { app_url: `${appOrigin}/index.html`, cors_origins: [appOrigin] },
		});
		frontend = await startFrontend(frontendPort, `${stack.base}${PREFIX}`);
		browser = await launchChromium();
	});
	afterAll(async () => {
		await browser?.close();
		await frontend?.close();
		await stack?.close();
	});

	it(
		"logs in through the hub's page, calls the hub with credentials, refreshes and logs out",
		async () => {
			const context = await browser.newContext();
			const page = await context.newPage();
			const setCookies: string[] = [];
			page.on("response", async (response) => {
				for (const header of await response.headersArray())
					if (header.name.toLowerCase() === "set-cookie") setCookies.push(header.value);
			});
			await page.goto(`${frontend.origin}/index.html`);
			await page.getByRole("button", { name: "Login with Tübingen" }).click();
			await page.getByLabel("Username or primary email").fill(ALICE.username);
			await page.getByLabel("Password").fill("any password");
			await page.getByRole("button", { name: "Sign in" }).click();
			await page.waitForURL(`${frontend.origin}/index.html`);

			const readable = await page.evaluate<string>("document.cookie");
			expect(readable).toContain("logged_in=true");
			expect(readable).toContain("username=Alice%20M%C3%BCller");
			expect(readable).toMatch(/timer=\d+\.\d+/);
			expect(readable).not.toContain("data=");
			const browserCookies = await context.cookies(`${stack.base}${PREFIX}/auth/refresh`);
			const data = browserCookies.find((cookie) => cookie.name === "data");
			expect(data).toMatchObject({ httpOnly: true, sameSite: "Strict", path: "/arcmanager/api" });

			const api = `${stack.base}${PREFIX}`;
			const call = (path: string) =>
				page.evaluate(async (url) => {
					const response = await fetch(url, { credentials: "include" });
					return { status: response.status, body: await response.text() };
				}, `${api}${path}`);
			const user = await call(`/proxy/${HUB}/api/v4/user`);
			expect(user.status).toBe(200);
			expect(JSON.parse(user.body)).toMatchObject({ id: ALICE.id, username: ALICE.username });

			const timerBefore = /timer=([\d.]+)/.exec(readable)?.[1];
			stack.testApp.clock.advanceMs(5_000);
			const refreshed = await call("/auth/refresh");
			expect(refreshed).toEqual({ status: 200, body: "Session refresh was successful!" });
			const timerAfter = /timer=([\d.]+)/.exec(await page.evaluate<string>("document.cookie"))?.[1];
			expect(Number(timerAfter)).toBeGreaterThan(Number(timerBefore));

			const loggedOut = await call("/auth/logout");
			expect(loggedOut).toEqual({ status: 200, body: "logout successful" });
			expect(await page.evaluate<string>("document.cookie")).not.toContain("logged_in");
			expect((await call(`/proxy/${HUB}/api/v4/user`)).status).toBe(401);

			const tokens = [...stack.fake.issuedAccessTokens, ...stack.fake.issuedRefreshTokens];
			expect(tokens.length).toBeGreaterThanOrEqual(4);
			expect(setCookies.length).toBeGreaterThan(5);
			for (const line of setCookies) for (const token of tokens) expect(line).not.toContain(token);
			await context.close();
		},
		JOURNEY_MS,
	);
});
