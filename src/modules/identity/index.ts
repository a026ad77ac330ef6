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
	],
	load: async () => (await import("./module.ts")).implementation,
});
