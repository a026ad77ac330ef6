/**
 * The version cache's refresh (specs/session-file-server.md §5.1): each Session app's GitHub releases,
 * polled about every 30 minutes per project through the GitHub REST API, honouring ETags (a 304 costs
 * nothing against the rate limit) and GitHub's rate-limit headers. Fixed against the original (§12 D12): a
 * tag that does not parse is skipped rather than ending the poll, and a poll GitHub does not answer usefully
 * is one log line with the reason, then waits (until the limit resets, or a back-off that doubles while the
 * failures go on) instead of retrying every tick.
 */
import type { Logger } from "pino";
import { Counter, Gauge, type Registry } from "prom-client";
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
/** The wait after a project's first failed refresh; each further failure in a row doubles it. */
const FIRST_FAILURE_BACKOFF_MS = 5 * 60_000;
/** GitHub's rate-limit window: an outage that lasts is still checked hourly, at one log line an hour. */
const MAX_FAILURE_BACKOFF_MS = 60 * 60_000;
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

/** Why GitHub gave no usable answer, in a few words for the log line, and a short code to match on. */
class GitHubFailure extends Error {
	readonly code: string;
	/** Nothing answered (name lookup, connection, timeout): every other project would fail the same way. */
	readonly isUnreachable: boolean;

	constructor(reason: string, code: string, isUnreachable: boolean) {
		super(reason);
		this.code = code;
		this.isUnreachable = isUnreachable;
	}
}

class RateLimited extends GitHubFailure {
	readonly retryAtMs: number;

	constructor(retryAtMs: number) {
		super("GitHub rate limit reached", "rate_limited", false);
		this.retryAtMs = retryAtMs;
	}
}

const POLL_OUTCOMES = ["ok", "failed", "rate_limited"] as const;
type PollOutcome = (typeof POLL_OUTCOMES)[number];

export interface ReleasePollMetrics {
	/** Polls that asked GitHub anything, by outcome (ticks with no project due are not counted). */
	readonly polls: Counter<"outcome">;
}

/**
 * The poller's series: its polls on this instance, and when each project's releases were last read from
 * GitHub, taken from the database at scrape time so that every instance reports the cluster's answer
 * whichever of them ran the leased poll.
 */
export function registerReleasePollMetrics(
	registry: Registry,
	records: ReleaseRecords,
	owner: string,
): ReleasePollMetrics {
	const registers = [registry];
	new Gauge({
		name: "tollgate_files_releases_refreshed_timestamp_seconds",
		help: "When a Session app's GitHub releases were last read successfully (Unix seconds); absent before the first time.",
		labelNames: ["project"],
		registers,
		async collect() {
			this.reset();
			for (const platform of PLATFORMS) {
				const project = releaseProject(owner, platform);
				const refreshedAtMs = (await records.pollState(project))?.refreshedAtMs;
				if (refreshedAtMs != null) this.set({ project }, refreshedAtMs / 1_000);
			}
		},
	});
	const polls = new Counter({
		name: "tollgate_files_release_polls_total",
		help: "Polls of GitHub's releases run by this instance, by outcome: ok, failed (unreachable or an error answer), rate_limited.",
		labelNames: ["outcome"],
		registers,
	});
	// Every outcome from the start, so that a rate of failures is 0 rather than absent.
	for (const outcome of POLL_OUTCOMES) polls.inc({ outcome }, 0);
	return { polls };
}

export interface ReleasePollerOptions {
	readonly records: ReleaseRecords;
	readonly clock: Clock;
	readonly logger: Logger;
	readonly metrics: ReleasePollMetrics;
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

interface NotRefreshed {
	readonly project: string;
	readonly retryAtMs: number;
}

/** What one poll did, for its one log line and its count. */
interface PollRound {
	readonly refreshed: string[];
	readonly notRefreshed: NotRefreshed[];
	/** The first failure of the round; null when every project asked was refreshed. */
	failure: GitHubFailure | null;
	/** Some project refreshed that had failed before. */
	hasRecovered: boolean;
}

export class ReleasePoller {
	readonly #options: ReleasePollerOptions;
	/**
	 * Failed refreshes in a row per project, as this instance saw them. The wait they lead to is stored
	 * (deferRefresh) and so holds for every instance; only the doubling is this instance's, so a poll that
	 * the lease hands to another instance may start again from the first wait, but never waits less.
	 */
	readonly #failureStreaks = new Map<string, { count: number; lastFailedAtMs: number }>();

	constructor(options: ReleasePollerOptions) {
		this.#options = options;
	}

	/**
	 * Refreshes every project whose releases are older than the interval and that is not waiting, then
	 * logs one line if any of them could not be refreshed (never one per project, never a stack: the
	 * failures are GitHub's or the network's, not ours). Errors of our own store propagate.
	 */
	async pollDue(signal: AbortSignal): Promise<void> {
		const { records, owner } = this.#options;
		const round: PollRound = {
			refreshed: [],
			notRefreshed: [],
			failure: null,
			hasRecovered: false,
		};
		let roundEndsAtMs: number | null = null;
		for (const platform of PLATFORMS) {
			if (signal.aborted) return;
			const project = releaseProject(owner, platform);
			const state = await records.pollState(project);
			if (!this.#isDue(state)) continue;
			if (roundEndsAtMs !== null) {
				// One rate limit, or one unreachable GitHub, covers every project: asking now would only fail too.
				await records.deferRefresh(project, roundEndsAtMs);
				round.notRefreshed.push({ project, retryAtMs: roundEndsAtMs });
				continue;
			}
			const failure = await this.#refresh(project, state, signal);
			if (failure === null) {
				round.refreshed.push(project);
				if (this.#failureStreaks.delete(project)) round.hasRecovered = true;
				continue;
			}
			const retryAtMs = this.#retryAtAfter(failure, project, state);
			await records.deferRefresh(project, retryAtMs);
			round.notRefreshed.push({ project, retryAtMs });
			round.failure ??= failure;
			if (failure instanceof RateLimited || failure.isUnreachable) roundEndsAtMs = retryAtMs;
		}
		this.#report(round);
	}

	#isDue(state: ProjectPollState | null): boolean {
		const nowMs = this.#options.clock.nowMs();
		const isFresh =
			state?.refreshedAtMs != null && state.refreshedAtMs > nowMs - this.#options.refreshIntervalMs;
		return !isFresh && (state?.retryAtMs ?? 0) <= nowMs;
	}

	/** GitHub's reset for a rate limit; else the first back-off, doubled for each failure in a row. */
	#retryAtAfter(failure: GitHubFailure, project: string, state: ProjectPollState | null): number {
		if (failure instanceof RateLimited) return failure.retryAtMs;
		const nowMs = this.#options.clock.nowMs();
		const streak = this.#failureStreaks.get(project);
		// A refresh since this instance's last failure (by another instance, through the lease) ended the streak.
		const isOngoing = streak !== undefined && (state?.refreshedAtMs ?? 0) <= streak.lastFailedAtMs;
		const count = isOngoing ? streak.count + 1 : 1;
		this.#failureStreaks.set(project, { count, lastFailedAtMs: nowMs });
		return nowMs + Math.min(FIRST_FAILURE_BACKOFF_MS * 2 ** (count - 1), MAX_FAILURE_BACKOFF_MS);
	}

	#report(round: PollRound): void {
		const { clock, logger, metrics } = this.#options;
		const { refreshed, notRefreshed, failure } = round;
		if (refreshed.length === 0 && notRefreshed.length === 0) return;
		const outcome: PollOutcome =
			failure === null ? "ok" : failure instanceof RateLimited ? "rate_limited" : "failed";
		metrics.polls.inc({ outcome });
		if (failure === null) {
			if (round.hasRecovered)
				logger.info({ projects: refreshed }, "files: GitHub releases refreshed again");
			return;
		}
		const nextTryInMs = Math.min(...notRefreshed.map(({ retryAtMs }) => retryAtMs)) - clock.nowMs();
		const projects = notRefreshed.map(({ project }) => project);
		const which = projects.length === PLATFORMS.length ? "" : ` of ${projects.join(", ")}`;
		logger.warn(
			{
				projects,
				reason: failure.message,
				code: failure.code,
				next_try_in_seconds: Math.ceil(nextTryInMs / 1_000),
			},
			`files: GitHub releases${which} not refreshed (${failure.message}); next try in ${Math.ceil(nextTryInMs / 60_000)} min`,
		);
	}

	/** Reads one project's releases and stores them; returns why it could not, or null. */
	async #refresh(
		project: string,
		state: ProjectPollState | null,
		signal: AbortSignal,
	): Promise<GitHubFailure | null> {
		const { records, clock } = this.#options;
		let latest: Fetched<unknown>;
		let list: Fetched<unknown>;
		let seen: GitHubRelease[];
		try {
			// /releases/latest finds the newest stable release even when the newest few are prereleases.
			latest = await this.#get(`/repos/${project}/releases/latest`, state?.latestEtag, signal, {
				absentIsEmpty: true,
			});
			list = await this.#get(
				`/repos/${project}/releases?per_page=${LIST_PAGE_SIZE}`,
				state?.listEtag,
				signal,
				{ absentIsEmpty: false },
			);
			seen = [
				...(latest.changed && latest.data !== null ? [parseRelease(latest.data)] : []),
				...(list.changed ? parseReleaseList(list.data) : []),
			];
		} catch (error) {
			if (error instanceof GitHubFailure) return error;
			throw error;
		}
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
		return null;
	}

	/** One GitHub request; what GitHub or the network did wrong is a GitHubFailure, an abort itself. */
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
		try {
			const response = await fetch(`${apiUrl.replace(/\/+$/, "")}${path}`, {
				headers,
				signal: AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
			});
			if (response.status === 304) return { changed: false };
			if (response.status === 403 || response.status === 429) {
				throw new RateLimited(rateLimitRetryAt(response.headers, clock.nowMs()));
			}
			// A repository with no stable release yet has no "latest".
			if (response.status === 404 && absentIsEmpty)
				return { changed: true, etag: null, data: null };
			if (!response.ok) {
				throw new GitHubFailure(
					`GitHub answered ${response.status}`,
					`http_${response.status}`,
					false,
				);
			}
			return { changed: true, etag: response.headers.get("etag"), data: await response.json() };
		} catch (error) {
			if (error instanceof GitHubFailure || signal.aborted) throw error;
			if (error instanceof SyntaxError)
				throw new GitHubFailure("GitHub's answer is not JSON", "not_json", false);
			throw unreachable(error);
		}
	}
}

/**
 * The network's reason, not fetch's own "fetch failed": its cause's message (`getaddrinfo ENOTFOUND
 * api.github.com`, `connect ECONNREFUSED 127.0.0.1:443`) and code.
 */
function unreachable(error: unknown): GitHubFailure {
	if (error instanceof Error && error.name === "TimeoutError") {
		return new GitHubFailure(`no answer within ${REQUEST_TIMEOUT_MS / 1_000} s`, "timeout", true);
	}
	const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
	const code =
		typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string"
			? cause.code
			: "unreachable";
	// A host with several addresses fails with an AggregateError whose own message is empty.
	const reason = cause instanceof Error && cause.message !== "" ? cause.message : code;
	return new GitHubFailure(reason, code, true);
}

function parseRelease(data: unknown): GitHubRelease {
	const parsed = releaseShape.safeParse(data);
	if (!parsed.success) throw unexpectedAnswer();
	return parsed.data;
}

function parseReleaseList(data: unknown): GitHubRelease[] {
	const parsed = z.array(releaseShape).safeParse(data);
	if (!parsed.success) throw unexpectedAnswer();
	return parsed.data;
}

function unexpectedAnswer(): GitHubFailure {
	return new GitHubFailure("GitHub's answer is not shaped as releases", "unexpected_answer", false);
}

/** When to ask again, from GitHub's documented headers: retry-after, else x-ratelimit-reset, else a minute. */
function rateLimitRetryAt(headers: Headers, nowMs: number): number {
	const retryAfter = Number(headers.get("retry-after") ?? Number.NaN);
	if (Number.isFinite(retryAfter)) return nowMs + retryAfter * 1_000;
	const reset = Number(headers.get("x-ratelimit-reset") ?? Number.NaN);
	if (headers.get("x-ratelimit-remaining") === "0" && Number.isFinite(reset)) return reset * 1_000;
	return nowMs + SECONDARY_LIMIT_WAIT_MS;
}
