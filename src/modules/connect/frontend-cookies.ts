/**
 * The cookies the ARCmanager frontend reads (specs/arcmanager.md §0.1, §3.2–§3.6), written as the original
 * (Starlette) wrote them: the HttpOnly `data` cookie — here an opaque session id, never a token — scoped to
 * the API's path, and the JS-readable `logged_in`, `username`, `timer`, `pat` and `error` at `/`, all
 * Secure and SameSite=Strict. One more, HttpOnly and Lax (it must survive the hub's redirect back), binds
 * a login to the browser that started it.
 */

export interface CookieSettings {
	/** Path of the `data` cookie. */
	readonly dataPath: string;
	/** Path of the login-binding cookie: the auth routes'. */
	readonly loginPath: string;
	readonly isSecure: boolean;
}

export const DATA_COOKIE = "data";
export const LOGIN_COOKIE = "tollgate_connect_login";
const LOGIN_COOKIE_SECONDS = 600;
/** As the frontend alerts it (§3.1); quoted, as Python's http.cookies writes a value with spaces. */
const HUB_UNAVAILABLE = '"DataHUB not available"';
const EXPIRED = "expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0";

function attributes(settings: CookieSettings, path: string, sameSite: "Strict" | "Lax"): string {
	return `Path=${path}; SameSite=${sameSite}${settings.isSecure ? "; Secure" : ""}`;
}

/** Python's urllib.parse.quote(text): everything but letters, digits, `_.-~` and `/` percent-encoded. */
export function pythonQuote(text: string): string {
	return encodeURIComponent(text)
		.replace(/[!'()*]/g, (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`)
		.replace(/%2F/g, "/");
}

/** Python's str(time.time()): seconds with a fraction, never a bare integer. */
export function pythonTimestamp(nowMs: number): string {
	const text = String(nowMs / 1_000);
	return text.includes(".") ? text : `${text}.0`;
}

export class FrontendCookies {
	readonly #settings: CookieSettings;

	constructor(settings: CookieSettings) {
		this.#settings = settings;
	}

	#readable(name: string, value: string): string {
		return `${name}=${value}; ${attributes(this.#settings, "/", "Strict")}`;
	}

	#cleared(name: string, path: string): string {
		return `${name}=""; ${EXPIRED}; ${attributes(this.#settings, path, "Strict")}`;
	}

	/** The session cookie: HttpOnly, no Max-Age (it ends with the browser), as the original's `data`. */
	data(sessionCookieValue: string): string {
		return `${DATA_COOKIE}=${sessionCookieValue}; HttpOnly; ${attributes(this.#settings, this.#settings.dataPath, "Strict")}`;
	}

	/** §3.2: after a login. The older `data` at `/` (an original's JWT) is cleared so it is not sent twice. */
	loggedIn(sessionCookieValue: string, name: string | null, nowMs: number): string[] {
		return [
			this.data(sessionCookieValue),
			...(this.#settings.dataPath === "/" ? [] : [this.#cleared(DATA_COOKIE, "/")]),
			this.#readable("logged_in", "true"),
			this.#readable("timer", pythonTimestamp(nowMs)),
			this.#readable("username", name === null ? "user" : pythonQuote(name)),
			this.#cleared("error", "/"),
			this.#clearedLogin(),
		];
	}

	/** §3.4: a refresh sets `data` again and a new `timer`. */
	refreshed(sessionCookieValue: string, nowMs: number): string[] {
		return [this.data(sessionCookieValue), this.#readable("timer", pythonTimestamp(nowMs))];
	}

	/** §3.5: a personal access token in use. */
	patAdded(sessionCookieValue: string): string[] {
		return [this.data(sessionCookieValue), this.#readable("pat", "true")];
	}

	/** §3.1/§3.2: the login failed for want of the hub; the frontend alerts on this cookie. */
	hubUnavailable(): string[] {
		return [this.#readable("error", HUB_UNAVAILABLE), this.#clearedLogin()];
	}

	/** §3.6: everything the login set, `data` at its path and at `/` (the older form). */
	loggedOut(): string[] {
		return [
			this.#cleared(DATA_COOKIE, this.#settings.dataPath),
			this.#cleared(DATA_COOKIE, "/"),
			this.#cleared("logged_in", "/"),
			this.#cleared("username", "/"),
			this.#cleared("timer", "/"),
			this.#cleared("pat", "/"),
		];
	}

	login(binding: string): string {
		return `${LOGIN_COOKIE}=${binding}; HttpOnly; Max-Age=${LOGIN_COOKIE_SECONDS}; ${attributes(this.#settings, this.#settings.loginPath, "Lax")}`;
	}

	#clearedLogin(): string {
		return `${LOGIN_COOKIE}=""; HttpOnly; ${EXPIRED}; ${attributes(this.#settings, this.#settings.loginPath, "Lax")}`;
	}
}

/**
 * A cookie's value from a Cookie header: null when absent, and also when sent more than once (a path
 * variant: which one is meant is ambiguous) or not printable ASCII.
 */
export function cookieFrom(header: string | undefined, name: string): string | null {
	if (header === undefined) return null;
	const values: string[] = [];
	for (const pair of header.split(";")) {
		const separator = pair.indexOf("=");
		if (separator !== -1 && pair.slice(0, separator).trim() === name)
			values.push(pair.slice(separator + 1).trim());
	}
	const [value] = values;
	if (values.length !== 1 || value === undefined || !/^[\x21-\x7e]+$/.test(value)) return null;
	return value;
}
