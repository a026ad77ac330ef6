/** The `[arcs]` config section: the ARCmanager API over connect's hubs (docs/config.md). */
import { z } from "zod";

/** A service's base URL (paths are appended to it): http(s), no query, fragment or trailing slash. */
const baseUrl = z.string().refine((text) => {
	if (!URL.canParse(text) || text.endsWith("/")) return false;
	const url = new URL(text);
	return (
		(url.protocol === "https:" || url.protocol === "http:") && url.search === "" && url.hash === ""
	);
}, "an http(s) URL without query, fragment or trailing slash");
/** Scheme, host and port only, as `new URL(…).origin` gives it. */
const origin = z
	.string()
	.refine(
		(text) => URL.canParse(text) && new URL(text).origin === text,
		"an origin: scheme, host and port only",
	);

export const arcsConfigSection = z
	.strictObject({
		enabled: z.boolean().default(false).meta({
			description:
				"Serve the ARCmanager API (ARCs on the connect hubs: listing, trees, files, folders, members) below connect.prefix; needs connect.",
		}),
		max_file_bytes: z.number().int().positive().default(52_428_800).meta({
			description:
				"Files larger than this are not shown by arc_file (413), as the original's 50 MB.",
		}),
		public_timeout_ms: z.number().int().min(100).max(120_000).default(15_000).meta({
			description:
				'How long public_arcs waits for a hub (then 504 "DataHUB currently not available!!").',
		}),
		upload_chunk_max_bytes: z.number().int().min(1_024).default(104_857_600).meta({
			description:
				"The largest chunk /fnf/uploadFile takes (the frontend sends 100 MiB ones); a larger one is 413.",
		}),
		upload_chunk_ttl_hours: z.number().int().min(1).max(720).default(24).meta({
			description:
				"Chunks of an upload that has not finished are deleted after this long (a leased job).",
		}),
		upload_retry_pause_ms: z.number().int().min(0).max(60_000).default(1_000).meta({
			description:
				"Pause before the n-th retry of a failed upload step at the hub, times n (at most 4 tries each).",
		}),
		swate_url: baseUrl.default("https://swate-alpha.nfdi4plants.org").meta({
			description:
				"Swate's API (terms: IOntologyAPIv3/searchTerm, IOntologyAPIv2/getAllTermsByParentTerm; templates fallback: ITemplateAPIv1/getTemplates).",
		}),
		swate_legacy_url: baseUrl.default("https://swate.nfdi4plants.org").meta({
			description:
				"The older Swate API the deprecated routes use (IOntologyAPIv2/getTermSuggestions, IProtocolAPIv1/getProtocolById).",
		}),
		template_registry_url: baseUrl.default("https://str.nfdi4plants.org").meta({
			description: "The Swate Template Registry (GET /api/v1/templates) getTemplates reads first.",
		}),
		swate_timeout_ms: z.number().int().min(100).max(120_000).default(10_000).meta({
			description: "How long a Swate or template-registry call may take (then 504).",
		}),
		search_hubs: z.array(z.string().min(1)).default([]).meta({
			description:
				"connect hubs whose public ARCs the search index (search/getArcJson) holds; none: every configured hub.",
		}),
		search_interval_minutes: z.number().int().min(1).max(10_080).default(60).meta({
			description: "How often the leased job rebuilds the search index of public ARCs.",
		}),
		invenio_origins: z.array(origin).default([]).meta({
			description:
				"The Invenio instances publishArc may send an ARC to (origins, e.g. https://zenodo.org); none: publishArc answers 403.",
		}),
	})
	.prefault({});

export type ArcsConfig = z.output<typeof arcsConfigSection>;
