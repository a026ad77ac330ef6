/**
 * The arcs module started: its routes below connect's prefix (projects, files and folders, users), every
 * hub call through connect's service with the user's server-side token.
 */
import type { ModuleImplementation } from "../contract.ts";
import type { ArcsConfig } from "./config.ts";
import { folderRoutes } from "./folder-routes.ts";
import { projectRoutes } from "./project-routes.ts";
import { userRoutes } from "./user-routes.ts";

export const implementation: ModuleImplementation<ArcsConfig> = {
	async register({ section, app, services }) {
		const connect = services.connect;
		if (connect === undefined)
			throw new Error("arcs needs the connect module: set connect.enabled = true");
		await app.register(projectRoutes, { connect, section });
		await app.register(folderRoutes, { connect });
		await app.register(userRoutes, { connect });
		return {};
	},
};
