/**
 * Every package the lockfile installs declares the Node versions Tollgate supports (package.json
 * `engines`, Node 20.19 and later): `npm install` on the oldest supported Node warns of none (EBADENGINE).
 * @see issue 18: cookie 2 and content-disposition 3 declared Node 22 only.
 */
import { readFile } from "node:fs/promises";
import semver from "semver";
import { describe, expect, it } from "vitest";

interface LockedPackage {
	/** An object of ranges; a few old packages still give an array of strings, which npm ignores. */
	readonly engines?: { readonly node?: string } | readonly string[];
}

describe("the supported Node versions", () => {
	it("are declared by every installed package", async () => {
		const manifest = JSON.parse(await readFile("package.json", "utf8")) as {
			engines: { node: string };
		};
		const oldest = semver.minVersion(manifest.engines.node)?.version ?? "";
		expect(oldest).toBe("20.19.0");
		const lock = JSON.parse(await readFile("package-lock.json", "utf8")) as {
			packages: Record<string, LockedPackage>;
		};
		const refusing = Object.entries(lock.packages)
			.filter(([path]) => path !== "")
			.flatMap(([path, entry]) => {
				const engines = entry.engines;
				const range =
					engines === undefined || Array.isArray(engines)
						? undefined
						: (engines as { node?: string }).node;
				return range === undefined || semver.satisfies(oldest, range) ? [] : [`${path} (${range})`];
			});
		expect(refusing).toEqual([]);
	});
});
