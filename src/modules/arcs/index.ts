/**
 * The ARCmanager API (specs/arcmanager.md §4–§6): ARCs on the connect module's hubs, for the unmodified
 * ARCmanager frontend, every call made with the user's server-side token. This file is the module's
 * descriptor and stays light; module.ts holds the rest.
 */
import { defineModule } from "../contract.ts";
import { arcsConfigSection } from "./config.ts";

export type { ArcsConfig } from "./config.ts";

export const arcsModule = defineModule({
	name: "arcs",
	configSection: arcsConfigSection,
	isEnabled: (section) => section.enabled,
	dependsOn: ["connect"],
	migrationsDir: "src/modules/arcs/migrations",
	load: async () => (await import("./module.ts")).implementation,
});
