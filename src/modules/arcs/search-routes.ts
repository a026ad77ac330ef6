/**
 * ARCmanager's search of public ARCs (specs/arcmanager.md §6.2): `search/getArcJson` answers the stored
 * index, without a login, an empty array before its first build (the original's missing file was a 500).
 * The original's `search/createArcJson` let anyone start a crawl of three hubs (§0.2 #7): it is not served;
 * the leased job `arcs.search_index` builds the index every `arcs.search_interval_minutes` instead.
 */
import type { FastifyReply } from "fastify";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import type { JobDefinition } from "../../jobs/job-runner.ts";
import type { ArcsContext } from "./route-context.ts";
import { SearchIndexer, searchDocumentSchema } from "./search-index.ts";
import { SqlSearchIndexStore } from "./search-store.ts";

const MINUTE_MS = 60_000;

/** The stored documents are JSON already: they are joined, not parsed and serialised again. */
function sendDocuments(reply: FastifyReply, documents: readonly string[]): FastifyReply {
	return reply
		.code(200)
		.type("application/json")
		.send(`[${documents.join(",")}]`);
}

export const searchRoutes: FastifyPluginAsyncZod<ArcsContext> = async (app, context) => {
	const { connect, storage } = context;
	const store = new SqlSearchIndexStore(storage.sql.db);

	app.get(
		`${connect.prefix}/search/getArcJson`,
		{
			schema: {
				tags: ["arcs"],
				summary:
					"Every public ARC of the indexed hubs (arcs.search_hubs), as the leased job arcs.search_index last read them; no login. Empty before its first run.",
				response: { 200: z.array(searchDocumentSchema), 503: connect.detailBody },
			},
		},
		async (_request, reply) => sendDocuments(reply, await store.documents()),
	);
};

export function searchIndexJob(context: ArcsContext): JobDefinition {
	const { connect, section, storage, logger } = context;
	const indexer = new SearchIndexer({
		connect,
		store: new SqlSearchIndexStore(storage.sql.db),
		logger,
		hubNames: section.search_hubs.length === 0 ? connect.hubNames() : section.search_hubs,
		timeoutMs: section.public_timeout_ms,
	});
	return {
		name: "arcs.search_index",
		intervalMs: section.search_interval_minutes * MINUTE_MS,
		run: ({ signal, nowMs }) => indexer.run(signal, nowMs),
	};
}
