/** The `[arcs]` config section: the ARCmanager API over connect's hubs (docs/config.md). */
import { z } from "zod";

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
	})
	.prefault({});

export type ArcsConfig = z.output<typeof arcsConfigSection>;
