/**
 * The version cache's refresh (specs/session-file-server.md §5.1): each Session app's GitHub releases,
 * polled about every 30 minutes per project through the GitHub REST API, honouring ETags (a 304 costs
 * nothing against the rate limit) and GitHub's rate-limit headers. Fixed against the original: a tag that
 * does not parse is skipped rather than ending the poll, and a failed or rate-limited poll waits (until the
 * limit resets, or a back-off) instead of retrying every tick.
 */
import type { Logger } from "pino";
import { z } from "zod";
import type { Clock } from "#lib/clock";
import type { ProjectPollState, Release, ReleaseRecords } from "./release-records.ts";

export const PLATFORMS = ["desktop", "android", "ios"] as const;
export type Platform = (typeof PLATFORMS)[number];

/** `session-foundation/session-desktop` and so on. */
export function releaseProject(owner: string, platform: Platform): string {
	return `${owner}/session-${platform}`;
}

const REQUEST_TIMEOUT_MS = 5_000;
const FAILURE_BACKOFF_MS = 5 * 60_000;
/** GitHub's advice when a secondary limit names no time: wait at least a minute. */
const SECONDARY_LIMIT_WAIT_MS = 60_000;
const LIST_PAGE_SIZE = 3;
const TAG_PATTERN = /^v?(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:-(alpha|beta)\.(\d+))?$/;

const releaseShape = z.object({
	tag_name: z.string(),
	html_url: z.string(),
	name: z.string().nullable().optional(),
	body: z.string().nullable().optional(),
	draft: z.boolean().optional(),
	prerelease: z.boolean(),
	assets: z.array(z.object({ name: z.string(), url: z.string() })).default([]),
});

type GitHubRelease = z.infer<typeof releaseShape>;

class RateLimited extends Error {
	readonly retryAtMs: number;

	constructor(retryAtMs: number) {
		super("GitHub rate limit reached");
		this.retryAtMs = retryAtMs;
	}
}

export interface ReleasePollerOptions {
	readonly records: ReleaseRecords;
	readonly clock: Clock;
	readonly logger: Logger;
	/** `https://api.github.com`, or a fake's address in tests. */
	readonly apiUrl: string;
	readonly owner: string;
	/** Lifts the unauthenticated limit of 60 requests an hour. */
	readonly token: string | undefined;
	readonly refreshIntervalMs: number;
}

/** A release from its GitHub tag; null for tags that are not `[v]X.Y.Z[-alpha.N|-beta.N]`. */
export function releaseFromGitHub(release: GitHubRelease): Release | null {
	const match = TAG_PATTERN.exec(release.tag_name);
	if (match === null) return null;
	const [, major, minor, patch, suffix, suffixNumber] = match;
	return {
		version: {
			major: Number(major),
			minor: Number(minor),
			patch: Number(patch),
			// As upstream: a beta is stored as its plain version; only alphas form their own channel.
			alpha: suffix === "alpha" ? Number(suffixNumber) : null,
		},
		prerelease: release.prerelease,
		url: release.html_url,
		name: release.name || null,
		notes: release.body || null,
		// The API address of each asset, as upstream stores it (not browser_download_url).
		assets: release.assets.map(({ name, url }) => ({ name, url })),
	};
}

type Fetched<T> =
	| { readonly changed: false }
	| { readonly changed: true; readonly etag: string | null; readonly data: T };

export class ReleasePoller {
	readonly #options: ReleasePollerOptions;

	constructor(options: ReleasePollerOptions) {
		this.#options = options;
	}

	/** Refreshes every project whose releases are older than the interval and that is not waiting. */
	async pollDue(signal: AbortSignal): Promise<void> {
		const { records, clock, owner, refreshIntervalMs } = this.#options;
		const projects = PLATFORMS.map((platform) => releaseProject(owner, platform));
		for (const [index, project] of projects.entries()) {
			if (signal.aborted) return;
			const state = await records.pollState(project);
			const nowMs = clock.nowMs();
			const fresh = state?.refreshedAtMs != null && state.refreshedAtMs > nowMs - refreshIntervalMs;
			if (fresh || (state?.retryAtMs ?? 0) > nowMs) continue;
			const outcome = await this.refresh(project, state, signal);
			if (outcome.kind === "rate-limited") {
				// One limit covers every project: until it resets the others would only be refused too.
				for (const waiting of projects.slice(index + 1))
					await records.deferRefresh(waiting, outcome.retryAtMs);
				return;
			}
		}
	}

	async refresh(
		project: string,
		state: ProjectPollState | null,
		signal: AbortSignal,
	): Promise<
		| { readonly kind: "refreshed" | "failed" }
		| { readonly kind: "rate-limited"; readonly retryAtMs: number }
	> {
		const { records, clock, logger } = this.#options;
		try {
			// /releases/latest finds the newest stable release even when the newest few are prereleases.
			const latest = await this.#get(
				`/repos/${project}/releases/latest`,
				state?.latestEtag,
				signal,
				{
					absentIsEmpty: true,
				},
			);
			const list = await this.#get(
				`/repos/${project}/releases?per_page=${LIST_PAGE_SIZE}`,
				state?.listEtag,
				signal,
				{ absentIsEmpty: false },
			);
			const seen: GitHubRelease[] = [
				...(latest.changed && latest.data !== null ? [parseRelease(latest.data)] : []),
				...(list.changed ? parseReleaseList(list.data) : []),
			];
			const releases = seen
				.filter((release) => release.draft !== true)
				.map(releaseFromGitHub)
				.filter((release) => release !== null);
			await records.saveRefresh(project, {
				refreshedAtMs: clock.nowMs(),
				latestEtag: latest.changed ? latest.etag : (state?.latestEtag ?? null),
				listEtag: list.changed ? list.etag : (state?.listEtag ?? null),
				releases,
			});
			return { kind: "refreshed" };
		} catch (error) {
			if (error instanceof RateLimited) {
				logger.warn(
					{ project, retry_at_ms: error.retryAtMs },
					"GitHub rate limit: release poll deferred",
				);
				await records.deferRefresh(project, error.retryAtMs);
				return { kind: "rate-limited", retryAtMs: error.retryAtMs };
			}
			if (signal.aborted) throw error;
			logger.warn({ project, err: error }, "release poll failed; retrying later");
			await records.deferRefresh(project, clock.nowMs() + FAILURE_BACKOFF_MS);
			return { kind: "failed" };
		}
	}

	async #get(
		path: string,
		etag: string | null | undefined,
		signal: AbortSignal,
		{ absentIsEmpty }: { absentIsEmpty: boolean },
	): Promise<Fetched<unknown>> {
		const { apiUrl, token, clock } = this.#options;
		const headers: Record<string, string> = {
			accept: "application/vnd.github+json",
			"x-github-api-version": "2022-11-28",
			"user-agent": "tollgate-release-poller",
		};
		if (etag) headers["if-none-match"] = etag;
		if (token !== undefined) headers.authorization = `Bearer ${token}`;
		const response = await fetch(`${apiUrl.replace(/\/+$/, "")}${path}`, {
			headers,
			signal: AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
		});
		if (response.status === 304) return { changed: false };
		if (response.status === 403 || response.status === 429) {
			throw new RateLimited(rateLimitRetryAt(response.headers, clock.nowMs()));
		}
		// A repository with no stable release yet has no "latest".
		if (response.status === 404 && absentIsEmpty) return { changed: true, etag: null, data: null };
		if (!response.ok) throw new Error(`GitHub answered ${response.status} for ${path}`);
		return { changed: true, etag: response.headers.get("etag"), data: await response.json() };
	}
}

function parseRelease(data: unknown): GitHubRelease {
	return releaseShape.parse(data);
}

function parseReleaseList(data: unknown): GitHubRelease[] {
	return z.array(releaseShape).parse(data);
}

/** When to ask again, from GitHub's documented headers: retry-after, else x-ratelimit-reset, else a minute. */
function rateLimitRetryAt(headers: Headers, nowMs: number): number {
	const retryAfter = Number(headers.get("retry-after") ?? Number.NaN);
	if (Number.isFinite(retryAfter)) return nowMs + retryAfter * 1_000;
	const reset = Number(headers.get("x-ratelimit-reset") ?? Number.NaN);
	if (headers.get("x-ratelimit-remaining") === "0" && Number.isFinite(reset)) return reset * 1_000;
	return nowMs + SECONDARY_LIMIT_WAIT_MS;
}
