/**
 * The arcs module started: its routes below connect's prefix (projects, files and folders, uploads,
 * users), every hub call through connect's service with the user's server-side token; the upload chunks
 * in the blob store, and the leased job that deletes those of uploads that never finished.
 */
import { Counter } from "prom-client";
import type { ModuleImplementation } from "../contract.ts";
import type { ArcsConfig } from "./config.ts";
import { folderRoutes } from "./folder-routes.ts";
import { isaRoutes } from "./isa-routes.ts";
import { projectRoutes } from "./project-routes.ts";
import { publishRoutes } from "./publish-routes.ts";
import type { ArcsContext } from "./route-context.ts";
import { searchIndexJob, searchRoutes } from "./search-routes.ts";
import { templateRoutes } from "./template-routes.ts";
import { SqlUploadChunkStore } from "./upload-chunks.ts";
import { purgeUploadChunks, uploadRoutes } from "./upload-routes.ts";
import { userRoutes } from "./user-routes.ts";
import { validationRoutes } from "./validation-routes.ts";

const PURGE_INTERVAL_MS = 60 * 60 * 1_000;
const HOUR_MS = 60 * 60 * 1_000;

export const implementation: ModuleImplementation<ArcsConfig> = {
	async register({ section, app, services, storage, clock, logger, registry, registerJob }) {
		const connect = services.connect;
		if (connect === undefined)
			throw new Error("arcs needs the connect module: set connect.enabled = true");
		const chunks = new SqlUploadChunkStore(storage.sql.db);
		const metrics = {
			retries: new Counter({
				name: "tollgate_arcs_upload_retries_total",
				help: "Upload steps at the hubs tried again after the hub failed them, by step.",
				labelNames: ["step"],
				registers: [registry],
			}),
			bytes: new Counter({
				name: "tollgate_arcs_uploaded_bytes_total",
				help: "Bytes of uploaded files sent to the hubs, through the files API or Git LFS.",
				labelNames: ["kind"],
				registers: [registry],
			}),
		};
		const context: ArcsContext = { connect, section, storage, clock, logger, registry };
		// Every arcs route answers errors as connect does and carries its CORS headers: set once here, for
		// the route plugins below.
		await app.register(async (api) => {
			api.setErrorHandler(connect.answerError);
			api.addHook("onRequest", connect.applyCors);
			await api.register(projectRoutes, { connect, section });
			await api.register(folderRoutes, { connect });
			await api.register(isaRoutes, { connect });
			await api.register(validationRoutes, { connect });
			await api.register(uploadRoutes, {
				connect,
				blobs: storage.blobs,
				chunks,
				clock,
				metrics,
				maxChunkBytes: section.upload_chunk_max_bytes,
				retryPauseMs: section.upload_retry_pause_ms,
			});
			await api.register(userRoutes, { connect });
			await api.register(templateRoutes, context);
			await api.register(searchRoutes, context);
			await api.register(publishRoutes, context);
		});
		registerJob(searchIndexJob(context));
		registerJob({
			name: "arcs.purge_upload_chunks",
			intervalMs: PURGE_INTERVAL_MS,
			run: async ({ signal, nowMs }) => {
				const purged = await purgeUploadChunks(
					chunks,
					storage.blobs,
					nowMs - section.upload_chunk_ttl_hours * HOUR_MS,
					signal,
				);
				if (purged > 0) logger.info({ purged }, "arcs: chunks of unfinished uploads deleted");
			},
		});
		return {};
	},
};
