import { readFile } from "node:fs/promises";
import { expect, it } from "vitest";
import { GENERATED_DOCS, renderErrorsDoc } from "../../scripts/docs.ts";
import { ERROR_CATALOGUE } from "../../src/errors/index.ts";

it.each(Object.entries(GENERATED_DOCS))(
	"%s matches the schema it is generated from",
	async (path, render) => {
		expect(await readFile(path, "utf8"), `${path} is stale: run npm run docs:gen`).toBe(render());
	},
);

it("docs/errors.md lists every error code and no other", () => {
	const listed = [...renderErrorsDoc().matchAll(/^\| `([a-z_]+)` \|/gm)].map((match) => match[1]);
	expect(listed.sort()).toEqual(Object.keys(ERROR_CATALOGUE).sort());
});
