/** Debian's chromium for the browser tests, with the flags this machine's closed network needs (env docs). */
import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";
export const hasChromium = existsSync(CHROMIUM);
if (!hasChromium && process.env.CI === "true")
	throw new Error(`CI needs ${CHROMIUM} (.ci/run installs Debian's chromium)`);

/** No background connections, no sandbox as root. */
const CHROMIUM_ARGS = [
	"--headless",
	"--no-sandbox",
	"--disable-gpu",
	"--disable-quic",
	"--no-first-run",
	"--disable-background-networking",
	"--disable-component-update",
	"--disable-sync",
	// Pages are served on http://localhost (WebAuthn takes no IP address as its relying party; Secure
	// cookies are kept for localhost over plain http).
	"--host-resolver-rules=MAP localhost 127.0.0.1",
];

/** Browser journeys are many page loads: a ceiling for a busy machine, not a speed expectation. */
export const JOURNEY_MS = 180_000;

export function launchChromium(): Promise<Browser> {
	return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}
