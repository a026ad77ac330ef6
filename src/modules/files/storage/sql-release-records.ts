/** The files module's version cache in SQL; one implementation for SQLite and PostgreSQL. */
import type { Generated, Kysely, Transaction } from "kysely";
import type { FoundationTables } from "../../../storage/index.ts";
import type {
	ProjectPollState,
	Release,
	ReleaseChannel,
	ReleaseRecords,
	VersionCheck,
} from "../release-records.ts";

interface ReleaseProjectsTable {
	name: string;
	refreshed_at_ms: number | null;
	retry_at_ms: number;
	latest_etag: string | null;
	list_etag: string | null;
}

interface ReleasesTable {
	id: Generated<number>;
	project: string;
	major: number;
	minor: number;
	patch: number;
	alpha: number | null;
	/** 0/1: SQLite has no booleans, and PostgreSQL reads "1" and "0" as booleans. */
	prerelease: number | boolean;
	url: string;
	name: string | null;
	notes: string | null;
}

interface ReleaseAssetsTable {
	release_id: number;
	position: number;
	name: string;
	url: string;
}

interface AccountVersionChecksTable {
	blinded_id: string;
	platform: string;
	channel: string;
	checked_at_ms: number;
}

type VersionTables = {
	release_projects: ReleaseProjectsTable;
	releases: ReleasesTable;
	release_assets: ReleaseAssetsTable;
	account_version_checks: AccountVersionChecksTable;
};

type Tables = FoundationTables & VersionTables;

export class SqlReleaseRecords implements ReleaseRecords {
	readonly #db: Kysely<Tables>;

	constructor(db: Kysely<FoundationTables>) {
		this.#db = db.withTables<VersionTables>();
	}

	async pollState(project: string): Promise<ProjectPollState | null> {
		const row = await this.#db
			.selectFrom("release_projects")
			.selectAll()
			.where("name", "=", project)
			.executeTakeFirst();
		if (row === undefined) return null;
		return {
			refreshedAtMs: row.refreshed_at_ms === null ? null : Number(row.refreshed_at_ms),
			retryAtMs: Number(row.retry_at_ms),
			latestEtag: row.latest_etag,
			listEtag: row.list_etag,
		};
	}

	async saveRefresh(
		project: string,
		refresh: {
			readonly refreshedAtMs: number;
			readonly latestEtag: string | null;
			readonly listEtag: string | null;
			readonly releases: readonly Release[];
		},
	): Promise<void> {
		await this.#db.transaction().execute(async (trx) => {
			const state = {
				refreshed_at_ms: refresh.refreshedAtMs,
				retry_at_ms: 0,
				latest_etag: refresh.latestEtag,
				list_etag: refresh.listEtag,
			};
			await trx
				.insertInto("release_projects")
				.values({ name: project, ...state })
				.onConflict((conflict) => conflict.column("name").doUpdateSet(state))
				.execute();
			for (const release of refresh.releases) await upsertRelease(trx, project, release);
		});
	}

	async deferRefresh(project: string, retryAtMs: number): Promise<void> {
		await this.#db
			.insertInto("release_projects")
			.values({ name: project, retry_at_ms: retryAtMs })
			.onConflict((conflict) => conflict.column("name").doUpdateSet({ retry_at_ms: retryAtMs }))
			.execute();
	}

	async newestRelease(project: string, channel: ReleaseChannel): Promise<Release | null> {
		let query = this.#db.selectFrom("releases").selectAll().where("project", "=", project);
		query =
			channel === "alpha"
				? query.where("alpha", "is not", null)
				: query
						.where("alpha", "is", null)
						.where("prerelease", "=", channel === "prerelease" ? 1 : 0);
		const row = await query
			.orderBy("major", "desc")
			.orderBy("minor", "desc")
			.orderBy("patch", "desc")
			.orderBy("alpha", "desc")
			.limit(1)
			.executeTakeFirst();
		if (row === undefined) return null;
		const assets = await this.#db
			.selectFrom("release_assets")
			.select(["name", "url"])
			.where("release_id", "=", row.id)
			.orderBy("position")
			.execute();
		return {
			version: { major: row.major, minor: row.minor, patch: row.patch, alpha: row.alpha },
			prerelease: Boolean(row.prerelease),
			url: row.url,
			name: row.name,
			notes: row.notes,
			assets,
		};
	}

	async recordVersionCheck(check: VersionCheck): Promise<void> {
		await this.#db
			.insertInto("account_version_checks")
			.values({
				blinded_id: check.blindedId,
				platform: check.platform,
				channel: check.channel,
				checked_at_ms: check.checkedAtMs,
			})
			.execute();
	}

	async pruneVersionChecks(beforeMs: number): Promise<number> {
		const result = await this.#db
			.deleteFrom("account_version_checks")
			.where("checked_at_ms", "<", beforeMs)
			.executeTakeFirst();
		return Number(result.numDeletedRows);
	}
}

async function upsertRelease(
	trx: Transaction<Tables>,
	project: string,
	release: Release,
): Promise<void> {
	const { major, minor, patch, alpha } = release.version;
	const fields = {
		prerelease: release.prerelease ? 1 : 0,
		url: release.url,
		name: release.name,
		notes: release.notes,
	};
	const existing = await trx
		.selectFrom("releases")
		.select("id")
		.where("project", "=", project)
		.where("major", "=", major)
		.where("minor", "=", minor)
		.where("patch", "=", patch)
		.where("alpha", alpha === null ? "is" : "=", alpha)
		.executeTakeFirst();
	let releaseId: number;
	if (existing === undefined) {
		const inserted = await trx
			.insertInto("releases")
			.values({ project, major, minor, patch, alpha, ...fields })
			.returning("id")
			.executeTakeFirstOrThrow();
		releaseId = Number(inserted.id);
	} else {
		releaseId = Number(existing.id);
		await trx.updateTable("releases").set(fields).where("id", "=", releaseId).execute();
		await trx.deleteFrom("release_assets").where("release_id", "=", releaseId).execute();
	}
	if (release.assets.length > 0) {
		await trx
			.insertInto("release_assets")
			.values(
				release.assets.map((asset, position) => ({
					release_id: releaseId,
					position,
					name: asset.name,
					url: asset.url,
				})),
			)
			.execute();
	}
}
