/**
 * The committed docs/config.md and docs/errors.md are what their sources say: each equals what the
 * generator renders now, and each lists exactly the keys or codes of its source, read from the committed
 * file (so a stale or hand-edited doc fails, not only a broken generator).
 */
import { readFile } from "node:fs/promises";
import { expect, it } from "vitest";
import { GENERATED_DOCS } from "../../scripts/docs.ts";
import { listConfigFields } from "../../src/config/index.ts";
import { ERROR_CATALOGUE } from "../../src/errors/index.ts";
import { configSchema } from "../../src/platform/config.ts";

it.each(Object.entries(GENERATED_DOCS))(
	"%s matches the schema it is generated from",
	async (path, render) => {
		expect(await readFile(path, "utf8"), `${path} is stale: run npm run docs:gen`).toBe(render());
	},
);

it("the committed docs/errors.md lists every error code and no other", async () => {
	const committed = await readFile("docs/errors.md", "utf8");
	const listed = [...committed.matchAll(/^\| `([a-z_]+)` \|/gm)].map((match) => match[1]);
	expect(listed.sort()).toEqual(Object.keys(ERROR_CATALOGUE).sort());
});

it("the committed docs/config.md names every config key's environment variable and no other", async () => {
	const committed = await readFile("docs/config.md", "utf8");
	const listed = [...committed.matchAll(/`(TOLLGATE_[A-Z0-9_]+)`/g)].map((match) => match[1]);
	const expected = listConfigFields(configSchema).map((field) => field.envName);
	expect([...new Set(listed)].filter((name) => name !== "TOLLGATE_CONFIG").sort()).toEqual(
		expected.sort(),
	);
});
