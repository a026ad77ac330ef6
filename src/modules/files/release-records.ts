/**
 * The version cache's storage port (specs/session-file-server.md §5): releases polled from GitHub per
 * project, the poll's bookkeeping, and the signed version checks. Implemented once for SQLite and
 * PostgreSQL (src/storage/kysely/release-records.ts).
 */

export type ReleaseChannel = "stable" | "prerelease" | "alpha";

export interface ReleaseVersion {
	readonly major: number;
	readonly minor: number;
	readonly patch: number;
	/** N of a `-alpha.N` tag; null for every other release. */
	readonly alpha: number | null;
}

export interface Release {
	readonly version: ReleaseVersion;
	/** GitHub's prerelease flag; an alpha is in the alpha channel whatever the flag says. */
	readonly prerelease: boolean;
	readonly url: string;
	readonly name: string | null;
	readonly notes: string | null;
	readonly assets: readonly { readonly name: string; readonly url: string }[];
}

export interface ProjectPollState {
	/** When the releases were last confirmed (a 200 or a 304 from GitHub); null before the first. */
	readonly refreshedAtMs: number | null;
	/** No request before this (GitHub's rate-limit reset, or a back-off after a failure). */
	readonly retryAtMs: number;
	readonly latestEtag: string | null;
	readonly listEtag: string | null;
}

export interface VersionCheck {
	readonly blindedId: string;
	readonly platform: string;
	readonly channel: ReleaseChannel;
	readonly checkedAtMs: number;
}

export interface ReleaseRecords {
	pollState(project: string): Promise<ProjectPollState | null>;

	/**
	 * Stores what one poll saw, in one transaction: each release inserted or updated (assets replaced),
	 * and the project marked refreshed with the new ETags. Releases not seen are kept.
	 */
	saveRefresh(
		project: string,
		refresh: {
			readonly refreshedAtMs: number;
			readonly latestEtag: string | null;
			readonly listEtag: string | null;
			readonly releases: readonly Release[];
		},
	): Promise<void>;

	/** Leaves the releases as they are and asks for no poll before `retryAtMs`. */
	deferRefresh(project: string, retryAtMs: number): Promise<void>;

	/** The highest version of the channel (alpha number last), or null. */
	newestRelease(project: string, channel: ReleaseChannel): Promise<Release | null>;

	recordVersionCheck(check: VersionCheck): Promise<void>;

	/** Deletes version checks made before `beforeMs`; returns how many. */
	pruneVersionChecks(beforeMs: number): Promise<number>;
}
