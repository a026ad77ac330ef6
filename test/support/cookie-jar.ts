/**
 * The cookies a browser would keep for one site, by name — and, with `respectPaths`, by name and Path as a
 * browser keeps them (RFC 6265 §5.1.4: a cookie goes only to requests below its path). Other attributes
 * do not matter here.
 */
export class CookieJar {
	readonly #cookies = new Map<string, { name: string; path: string; value: string }>();
	readonly #respectPaths: boolean;

	constructor(options: { respectPaths?: boolean } = {}) {
		this.#respectPaths = options.respectPaths ?? false;
	}

	store(response: Response): void {
		for (const line of response.headers.getSetCookie()) {
			const [pair = "", ...attributes] = line.split(";");
			const separator = pair.indexOf("=");
			const name = pair.slice(0, separator).trim();
			const value = pair.slice(separator + 1).trim();
			const pathAttribute = attributes
				.map((attribute) => attribute.trim())
				.find((attribute) => attribute.toLowerCase().startsWith("path="));
			const path = pathAttribute === undefined ? "/" : pathAttribute.slice("path=".length);
			const key = this.#respectPaths ? `${name}\n${path}` : name;
			if (value === "" || /expires=Thu, 01 Jan 1970|max-age=0/i.test(line))
				this.#cookies.delete(key);
			else this.#cookies.set(key, { name, path, value });
		}
	}

	/** The Cookie header for a request to `forPath` (default: every cookie kept). */
	header(forPath?: string): string {
		return [...this.#cookies.values()]
			.filter(
				({ path }) =>
					forPath === undefined ||
					path === "/" ||
					forPath === path ||
					forPath.startsWith(`${path.replace(/\/$/, "")}/`),
			)
			.map(({ name, value }) => `${name}=${value}`)
			.join("; ");
	}

	/** One cookie's value, whatever its path. */
	value(name: string): string | undefined {
		return [...this.#cookies.values()].find((cookie) => cookie.name === name)?.value;
	}
}
