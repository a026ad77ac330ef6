import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { AppError } from "#errors";
import { refusal } from "./hub-api.ts";
import { InvenioClient, invenioDraftOf } from "./invenio-client.ts";
import { sendJsonString } from "./json-string.ts";
import type { ArcsContext } from "./route-context.ts";

const PUBLISHED = "Your ARC was uploaded successfully!";

/** The file key the ARC is stored under: its name with no `/`, `\`, control character or `..`. */
export function zipKeyOf(arcName: string): string {
	const name = arcName
		.replace(/[/\\\p{Cc}]/gu, "_")
		.replace(/\.{2,}/g, "_")
		.replace(/^[\s.]+|[\s.]+$/g, "");
	return `${name === "" ? "arc" : name}.zip`;
}

/** GitLab's project paths: segments of letters, digits, `_`, `-` and `.`, none starting with a dot. */
const isProjectPath = (path: string) =>
	path.split("/").every((segment) => /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(segment));

const publishBody = z.object({
	arcName: z
		.string()
		.min(1)
		.max(255)
		.meta({ description: "The ARC's name: the file is <arcName>.zip." }),
	invenioPAT: z
		.string()
		.regex(/^[\x21-\x7e]{1,4096}$/, "a token of visible ASCII characters")
		.meta({ description: "The user's Invenio personal access token (sent to Invenio only)." }),
	invenioURL: z
		.string()
		.max(2_048)
		.refine(
			(address) => invenioDraftOf(address) !== null,
			"an Invenio record's address: https://<host>/uploads/<record id> (or /records/<record id>)",
		)
		.meta({
			description: "The record's deposit page; its origin must be in arcs.invenio_origins.",
		}),
	namespace: z
		.string()
		.min(1)
		.max(1_024)
		.refine(isProjectPath, "the ARC's path_with_namespace, e.g. group/my-arc")
		.meta({ description: "The ARC's path_with_namespace at the user's hub." }),
});

export const publishRoutes: FastifyPluginAsyncZod<ArcsContext> = async (app, context) => {
	const { connect, section } = context;
	const invenio = new InvenioClient(section.invenio_origins);
	app.addHook("onClose", () => invenio.close());

	app.post(
		`${connect.prefix}/projects/publishArc`,
		{
			preHandler: connect.refuseCrossSite,
			schema: {
				tags: ["arcs"],
				summary:
					"Zip the ARC's default branch (the hub's archive) into the Invenio record's draft as <arcName>.zip, committed; 403 for an Invenio not in arcs.invenio_origins or one refusing the token, 502 with Invenio's message for other refusals, 504 when Invenio does not answer.",
				body: publishBody,
				response: {
					200: z.string(),
					400: connect.detailBody,
					401: connect.detailBody,
					403: connect.detailBody,
					404: connect.detailBody,
					502: connect.detailBody,
					504: connect.detailBody,
				},
			},
		},
		async (request, reply) => {
			const { session } = await connect.requireSession(request);
			const { arcName, invenioPAT, invenioURL, namespace } = request.body;
			const draft = invenioDraftOf(invenioURL);
			// No call leaves before this: only configured instances ever receive a request (no SSRF).
			if (draft === null || !invenio.isAllowed(draft))
				throw new AppError("forbidden", {
					description: `${draft?.origin ?? "This address"} is not an Invenio this server publishes to (arcs.invenio_origins).`,
				});
			const archive = await connect.call(session, {
				method: "GET",
				path: `/api/v4/projects/${encodeURIComponent(namespace)}/repository/archive.zip`,
				headers: { accept: "application/zip" },
			});
			if (archive.status !== 200) {
				const text = await archive.body.text();
				let json: unknown = text;
				try {
					json = JSON.parse(text);
				} catch {
					json = text;
				}
				throw refusal(
					{ status: archive.status, headers: archive.headers, json },
					"Could not archive the ARC",
				);
			}
			const archiveFailures: unknown[] = [];
			archive.body.once("error", (error: unknown) => archiveFailures.push(error));
			const length = Number(archive.headers["content-length"]);
			const key = zipKeyOf(arcName);
			try {
				await invenio.addFile(draft, key, invenioPAT, {
					body: archive.body,
					...(Number.isSafeInteger(length) && length >= 0 ? { lengthBytes: length } : {}),
				});
			} catch (error) {
				// The hub's archive broke off mid-stream: that is the hub's failure, not Invenio's.
				if (archiveFailures.length > 0)
					throw new AppError("upstream_unavailable", { cause: archiveFailures[0] });
				throw error;
			} finally {
				if (!archive.body.destroyed) archive.body.destroy();
			}
			request.log.info(
				{ invenio: draft.origin, record: draft.recordId, key },
				"arcs: ARC published to Invenio",
			);
			return sendJsonString(reply, 200, PUBLISHED);
		},
	);
};
