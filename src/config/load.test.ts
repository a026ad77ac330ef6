import { describe, expect, it } from "vitest";
import { z } from "zod";
import { envNameOf } from "./fields.ts";
import { ConfigError, loadConfigFrom } from "./load.ts";

/** A section with a table inside it, as modules with nested settings (an SMTP server, hubs) will have. */
const schema = z.strictObject({
	identity: z
		.strictObject({
			issuer_url: z.string().optional(),
			smtp: z
				.strictObject({
					host: z.string().default("localhost"),
					port: z.number().int().default(25),
				})
				.prefault({}),
		})
		.prefault({}),
});

describe("environment variable names (docs/adr/0002)", () => {
	it("join a section and its key with one underscore, and deeper keys with two", () => {
		expect(envNameOf(["http", "port"])).toBe("TOLLGATE_HTTP_PORT");
		expect(envNameOf(["files", "max_file_size_bytes"])).toBe("TOLLGATE_FILES_MAX_FILE_SIZE_BYTES");
		expect(envNameOf(["dev"])).toBe("TOLLGATE_DEV");
		expect(envNameOf(["identity", "smtp", "host"])).toBe("TOLLGATE_IDENTITY_SMTP__HOST");
	});

	it("set a key in a table below a section, typed by the schema", () => {
		const config = loadConfigFrom(schema, {
			env: {
				TOLLGATE_IDENTITY_SMTP__HOST: "mail.example.org",
				TOLLGATE_IDENTITY_SMTP__PORT: "587",
			},
		});
		expect(config.identity.smtp).toEqual({ host: "mail.example.org", port: 587 });
	});

	it("refuse the single-underscore spelling of a nested key: it names no key", () => {
		expect(() => loadConfigFrom(schema, { env: { TOLLGATE_IDENTITY_SMTP_HOST: "x" } })).toThrow(
			ConfigError,
		);
	});
});
