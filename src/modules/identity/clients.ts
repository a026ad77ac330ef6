/**
 * An OAuth client as an operator declares it, in `[[identity.clients]]` or with `tollgate identity clients
 * add`: one schema for both, turned into oidc-provider's client metadata. A client with a secret
 * authenticates with client_secret_basic, one with public keys (a JWKS file) with private_key_jwt; any
 * other is public and must use PKCE.
 */
import { readFile } from "node:fs/promises";
import type { ClientMetadata } from "oidc-provider";
import { z } from "zod";
import { SIGNING_ALGORITHMS } from "./signing-keys.ts";

export const DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";
export const GRANT_TYPES = [
	"authorization_code",
	"refresh_token",
	"client_credentials",
	DEVICE_CODE_GRANT,
] as const;

/** A redirect URI or an API's resource indicator: absolute, without a fragment. */
export const absoluteUri = z
	.string()
	.refine(
		(text) => URL.canParse(text) && new URL(text).hash === "",
		"an absolute URI without a fragment",
	);

/** The client metadata (oidc-provider's extraClientMetadata) that marks a first-party client. */
export const FIRST_PARTY_METADATA = "first_party";

export const clientSpec = z
	.strictObject({
		client_id: z
			.string()
			.regex(/^[A-Za-z0-9_.:-]{1,128}$/, "letters, digits and _.:- (at most 128)")
			.meta({ description: "The client's id." }),
		redirect_uris: z
			.array(absoluteUri)
			.default([])
			.meta({ description: "Where authorization responses may go; matched exactly." }),
		post_logout_redirect_uris: z
			.array(absoluteUri)
			.default([])
			.meta({ description: "Where RP-initiated logout may return to." }),
		grant_types: z
			.array(z.enum(GRANT_TYPES))
			.min(1)
			.default(["authorization_code", "refresh_token"])
			.meta({ description: "What the client may exchange at the token endpoint." }),
		id_token_signed_response_alg: z
			.enum(SIGNING_ALGORITHMS)
			.optional()
			.meta({ description: "Its id_tokens' signature. Unset: RS256." }),
		first_party: z.boolean().default(false).meta({
			description:
				"The operator's own app: its users are not asked for consent. Otherwise they are, once per scope (remembered).",
		}),
		client_secret: z.string().min(32, "at least 32 characters").optional().meta({
			description: "A confidential client's secret (client_secret_basic).",
			secret: true,
		}),
		jwks_file: z.string().min(1).optional().meta({
			description:
				"A JSON file with a confidential client's public keys (a JWKS): it authenticates with private_key_jwt.",
		}),
	})
	.refine(
		(spec) => !spec.grant_types.includes("authorization_code") || spec.redirect_uris.length > 0,
		{
			message: "the authorization_code grant needs redirect_uris",
			path: ["redirect_uris"],
		},
	)
	.refine((spec) => spec.client_secret === undefined || spec.jwks_file === undefined, {
		message: "a client authenticates one way: client_secret or jwks_file, not both",
		path: ["jwks_file"],
	});

export type ClientSpec = z.output<typeof clientSpec>;

/** The public keys in a client's `jwks_file`; a message when the file is not a JWKS of public keys. */
export async function readClientJwks(
	spec: ClientSpec,
): Promise<{ readonly keys: readonly Record<string, unknown>[] } | string | undefined> {
	if (spec.jwks_file === undefined) return undefined;
	let parsed: unknown;
	try {
		parsed = JSON.parse(await readFile(spec.jwks_file, "utf8"));
	} catch (error) {
		return `cannot read ${spec.jwks_file} as JSON (${error instanceof Error ? error.message : String(error)})`;
	}
	const keys = (parsed as { keys?: unknown } | null)?.keys;
	if (
		!Array.isArray(keys) ||
		keys.length === 0 ||
		!keys.every((key) => typeof key === "object" && key !== null)
	)
		return `${spec.jwks_file} must be a JWKS, {"keys": [...]}`;
	if (keys.some((key) => "d" in key))
		return `${spec.jwks_file} holds a private key: give the client's public keys only`;
	return { keys };
}

/** oidc-provider's metadata for the client; `jwks` is what its jwks_file held. */
export function clientMetadata(
	spec: ClientSpec,
	jwks?: { readonly keys: readonly Record<string, unknown>[] },
): ClientMetadata {
	const authMethod =
		spec.client_secret !== undefined
			? "client_secret_basic"
			: jwks !== undefined
				? "private_key_jwt"
				: "none";
	return {
		client_id: spec.client_id,
		token_endpoint_auth_method: authMethod,
		...(spec.client_secret === undefined ? {} : { client_secret: spec.client_secret }),
		...(jwks === undefined ? {} : { jwks: { keys: jwks.keys.map((key) => ({ ...key })) } }),
		redirect_uris: spec.redirect_uris,
		post_logout_redirect_uris: spec.post_logout_redirect_uris,
		grant_types: spec.grant_types,
		[FIRST_PARTY_METADATA]: spec.first_party,
		response_types: spec.grant_types.includes("authorization_code") ? ["code"] : [],
		...(spec.id_token_signed_response_alg === undefined
			? {}
			: { id_token_signed_response_alg: spec.id_token_signed_response_alg }),
	};
}

/** The clients `[[identity.clients]]` declares, their key files read; a bad file stops the start. */
export async function declaredClients(specs: readonly ClientSpec[]): Promise<ClientMetadata[]> {
	return Promise.all(
		specs.map(async (spec) => {
			const jwks = await readClientJwks(spec);
			if (typeof jwks === "string")
				throw new Error(`identity.clients: client ${spec.client_id}: jwks_file: ${jwks}`);
			return clientMetadata(spec, jwks);
		}),
	);
}
