/**
 * `GET /session_version?platform=…[&release_channel=…]` (specs/session-file-server.md §5.2): the newest
 * cached release of a Session app, optionally under a version-blinded signature that is counted.
 * `release_channel=latest` (desktop before April 2025) means stable.
 */
import type { FastifyPluginAsync } from "fastify";
import { z } from "zod";
import type { Clock } from "#lib/clock";
import { contentResponse, validatedByHandler } from "../../http/openapi.ts";
import { onionReachable } from "../../transports/onion/index.ts";
import { answerFileServerError, sendJson } from "./file-server-replies.ts";
import { PLATFORMS, type Platform, releaseProject } from "./release-poller.ts";
import type { Release, ReleaseChannel, ReleaseRecords } from "./release-records.ts";
import { verifyVersionAuth } from "./version-auth.ts";

const CHANNELS: ReadonlyMap<string, ReleaseChannel> = new Map([
	["stable", "stable"],
	["latest", "stable"],
	["prerelease", "prerelease"],
	["alpha", "alpha"],
]);

const statusBody = z.object({ status_code: z.int() });
const releaseSummary = {
	updated: z
		.number()
		.meta({ description: "When the releases were last read from GitHub (Unix seconds)." }),
	result: z.string().meta({ description: "The version, e.g. 1.17.3." }),
	name: z.string().optional(),
	notes: z.string().optional(),
	assets: z.array(z.unknown()).optional(),
};
const versionResponse = z.object({
	status_code: z.literal(200),
	...releaseSummary,
	prerelease: z.object(releaseSummary).optional(),
});
const authRefusal = (description: string) => contentResponse(description, "text/plain", z.string());

const versionSchema = {
	tags: ["files"],
	summary: "The newest release of a Session app, optionally under a version-blinded signature.",
	querystring: z.object({
		platform: z.enum(["desktop", "android", "ios"]),
		release_channel: z.enum(["stable", "latest", "prerelease", "alpha"]).optional(),
	}),
	headers: z.object({
		"x-fs-pubkey": z.string().optional().meta({ description: "Blinded Ed25519 key, hex." }),
		"x-fs-timestamp": z.string().optional().meta({ description: "Unix seconds." }),
		"x-fs-signature": z.string().optional().meta({ description: "Signature, base64." }),
	}),
	response: {
		200: contentResponse("The newest release.", "application/json", versionResponse),
		400: authRefusal("A malformed signature header."),
		401: authRefusal("The signature does not verify."),
		404: contentResponse("Unknown platform.", "application/json", statusBody),
		425: authRefusal("The timestamp is too far from the server's clock."),
		502: contentResponse(
			"No release known for the channel yet (or files.session_version.enabled = false).",
			"application/json",
			statusBody,
		),
		503: contentResponse("The store is unreachable; retry later.", "application/json", statusBody),
	},
};

export interface VersionRoutesOptions {
	readonly releases: ReleaseRecords;
	readonly clock: Clock;
	readonly githubOwner: string;
	/**
	 * false (files.session_version.enabled): no releases are polled, and every request for a known platform
	 * and a valid signature gets the 502 Session clients already meet before the first poll, and retry
	 * later; nor are version checks kept. Releases cached before it was switched off are not served stale.
	 */
	readonly isSessionVersionEnabled: boolean;
	/** 0: version checks are verified but not kept. */
	readonly keepVersionChecks: boolean;
}

function versionString({ major, minor, patch, alpha }: Release["version"]): string {
	return `${major}.${minor}.${patch}${alpha === null ? "" : `-alpha.${alpha}`}`;
}

/** `name`, `notes` and `assets`, each only when it has content, as the original sends them. */
function releaseDetails(release: Release): Record<string, unknown> {
	return {
		...(release.name ? { name: release.name } : {}),
		...(release.notes ? { notes: release.notes } : {}),
		...(release.assets.length > 0 ? { assets: release.assets } : {}),
	};
}

/** Node joins repeated headers with ", ", which then fails to decode like any other bad value. */
function headerText(value: string | string[] | undefined): string | undefined {
	return Array.isArray(value) ? value.join(", ") : value;
}

function isPlatform(value: unknown): value is Platform {
	return typeof value === "string" && (PLATFORMS as readonly string[]).includes(value);
}

export const versionRoutes: FastifyPluginAsync<VersionRoutesOptions> = async (app, options) => {
	const { releases, clock } = options;
	app.setErrorHandler(answerFileServerError);

	app.get<{ Querystring: Record<string, string | string[] | undefined> }>(
		"/session_version",
		{ ...validatedByHandler, config: onionReachable, schema: versionSchema },
		async (request, reply) => {
			const { platform, release_channel: channelName = "stable" } = request.query;
			if (!isPlatform(platform)) return sendJson(reply, 404, { status_code: 404 });
			const channel = typeof channelName === "string" ? CHANNELS.get(channelName) : undefined;

			const queryStart = request.url.indexOf("?");
			const rawPath = queryStart === -1 ? request.url : request.url.slice(0, queryStart);
			let path: string;
			try {
				path = decodeURIComponent(rawPath);
			} catch {
				path = rawPath;
			}
			const auth = verifyVersionAuth(
				{
					method: request.method,
					path,
					rawQuery: queryStart === -1 ? "" : request.url.slice(queryStart + 1),
					body: new Uint8Array(0),
					headers: {
						pubkey: headerText(request.headers["x-fs-pubkey"]),
						timestamp: headerText(request.headers["x-fs-timestamp"]),
						signature: headerText(request.headers["x-fs-signature"]),
					},
				},
				Math.floor(clock.nowMs() / 1_000),
			);
			if (auth.kind === "rejected") {
				return reply.code(auth.status).type("text/plain; charset=utf-8").send(auth.reason);
			}
			// An unknown channel finds no release, as in the original; nor does any while versions are off.
			if (channel === undefined || !options.isSessionVersionEnabled)
				return sendJson(reply, 502, { status_code: 502 });
			if (auth.kind === "verified" && options.keepVersionChecks) {
				await releases.recordVersionCheck({
					blindedId: auth.blindedId,
					platform,
					channel,
					checkedAtMs: clock.nowMs(),
				});
			}

			const project = releaseProject(options.githubOwner, platform);
			const state = await releases.pollState(project);
			const newest = await releases.newestRelease(project, channel);
			if (state?.refreshedAtMs == null || newest === null)
				return sendJson(reply, 502, { status_code: 502 });
			const updated = state.refreshedAtMs / 1_000;
			const prerelease = await releases.newestRelease(project, "prerelease");
			// Key order as the original's: status_code, updated, result, details, then prerelease.
			return sendJson(reply, 200, {
				status_code: 200,
				updated,
				result: versionString(newest.version),
				...releaseDetails(newest),
				...(prerelease === null
					? {}
					: {
							prerelease: {
								result: versionString(prerelease.version),
								updated,
								...releaseDetails(prerelease),
							},
						}),
			});
		},
	);
};
