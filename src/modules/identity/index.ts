/**
 * The identity provider (specs/identity-dodeka.md): accounts whose passwords the server never sees (OPAQUE,
 * RFC 9807) and the account API the pages and apps call. This file is the module's descriptor and stays
 * light; module.ts holds the rest.
 */
import { defineModule } from "../contract.ts";
import { identityConfigSection } from "./config.ts";

export type { IdentityConfig } from "./config.ts";

const commands = () => import("./cli.ts");
const user = ["user"];

export const identityModule = defineModule({
	name: "identity",
	configSection: identityConfigSection,
	isEnabled: (section) => section.enabled,
	migrationsDir: "src/modules/identity/migrations",
	commands: [
		{
			name: "identity users add",
			summary: "Create an account and print its one-time set-password link.",
			details: [
				"",
				"The e-mail is stored trimmed and in lower case. The link works once, for",
				"identity.set_password_link_hours; `identity users link` makes a new one.",
			],
			arguments: ["email"],
			options: {
				name: { value: "text", description: "display name" },
				role: { value: "role[,role…]", description: "roles to give the account" },
			},
			load: async () => (await commands()).addUser,
		},
		{
			name: "identity invite",
			summary: "Print a one-time invitation link to the sign-up page (identity.signup = invite).",
			details: [
				"",
				"The link works once, for identity.set_password_link_hours: its holder signs up with any address.",
			],
			load: async () => (await commands()).invite,
		},
		{
			name: "identity users list",
			summary: "Print every account, one JSON object a line.",
			details: [],
			load: async () => (await commands()).listUsers,
		},
		{
			name: "identity users show",
			summary: "Print one account (by id or e-mail) as JSON.",
			details: ["", "Exits 1 when there is no such account."],
			arguments: user,
			load: async () => (await commands()).showUser,
		},
		{
			name: "identity users link",
			summary: "Print a new one-time set-password link for an account (a reset by the operator).",
			details: [],
			arguments: user,
			load: async () => (await commands()).passwordLink,
		},
		{
			name: "identity users disable",
			summary: "Stop an account from logging in.",
			details: [],
			arguments: user,
			load: async () => (await commands()).disableUser,
		},
		{
			name: "identity users enable",
			summary: "Let a disabled account log in again.",
			details: [],
			arguments: user,
			load: async () => (await commands()).enableUser,
		},
		{
			name: "identity users role add",
			summary: "Give an account a role (matched as a whole token in claims and scopes).",
			details: [],
			arguments: ["user", "role"],
			load: async () => (await commands()).addRole,
		},
		{
			name: "identity users role remove",
			summary: "Take a role from an account.",
			details: [],
			arguments: ["user", "role"],
			load: async () => (await commands()).removeRole,
		},
		{
			name: "identity clients add",
			summary:
				"Register an OAuth client (public with PKCE by default); prints its secret once if confidential.",
			details: [
				"",
				"Redirect URIs are matched exactly. A confidential client (--confidential, or any client with",
				"client_credentials) authenticates with client_secret_basic, or with private_key_jwt when given",
				"--jwks (its public keys, copied in). Users are asked to consent to what a client asks for, once per",
				"scope, unless it is --first-party. Clients can also be declared in the config ([[identity.clients]]);",
				"those cannot be added or removed here.",
			],
			arguments: ["client_id"],
			options: {
				"redirect-uri": {
					value: "uri[,uri…]",
					description: "where authorization responses may go",
				},
				"post-logout-uri": { value: "uri[,uri…]", description: "where logout may return to" },
				"grant-types": {
					value: "grant[,grant…]",
					description:
						"authorization_code,refresh_token (default), client_credentials, urn:ietf:params:oauth:grant-type:device_code",
				},
				confidential: { description: "a client that keeps a secret (a server)" },
				"first-party": { description: "the operator's own app: users are not asked for consent" },
				jwks: {
					value: "file",
					description: "a JWKS of the client's public keys: it authenticates with private_key_jwt",
				},
				"id-token-alg": {
					value: "EdDSA|ES256|RS256",
					description: "id_token signature (default RS256)",
				},
			},
			load: async () => (await commands()).addClient,
		},
		{
			name: "identity keys rotate",
			summary:
				"Make new signing keys (EdDSA, ES256, RS256); the old ones stay in the JWKS until their tokens expire.",
			details: [
				"",
				"Every running instance signs with the new keys within 30 s (each checks the stored keys when",
				"requests come). A leased job drops a retired key once the longest token it signed has expired.",
			],
			load: async () => (await commands()).rotateKeys,
		},
		{
			name: "identity clients list",
			summary: "Print every OAuth client, one JSON object a line (secrets never shown).",
			details: [],
			load: async () => (await commands()).listClients,
		},
		{
			name: "identity clients show",
			summary: "Print one OAuth client as JSON (its secret never shown).",
			details: ["", "Exits 1 when there is no such client."],
			arguments: ["client_id"],
			load: async () => (await commands()).showClient,
		},
		{
			name: "identity clients remove",
			summary: "Remove an OAuth client.",
			details: [],
			arguments: ["client_id"],
			load: async () => (await commands()).removeClient,
		},
	],
	load: async () => (await import("./module.ts")).implementation,
});
