/**
 * Where the search index of public ARCs lives (specs/arcmanager.md §6.2): one row per hub and project
 * in the database, so every instance answers getArcJson alike and a restart keeps the index (the
 * original kept one `searchableArcs.json` in its working directory). The leased job is the only writer.
 */
import type { Kysely } from "kysely";
import type { FoundationTables } from "../../storage/index.ts";

export interface IndexedProject {
	/** GitLab's `last_activity_at` when the project's files were read for `document`. */
	readonly lastActivityAt: string;
	/** The document as getArcJson answers it (JSON text). */
	readonly document: string;
}

export interface SearchIndexStore {
	/** The stored rows of these projects of a hub, by project id. */
	entriesOf(hub: string, projectIds: readonly number[]): Promise<Map<number, IndexedProject>>;
	/** Stores a document just built from the project's files, as listed in run `runId`. */
	saveRead(
		hub: string,
		projectId: number,
		entry: IndexedProject,
		runId: string,
		nowMs: number,
	): Promise<void>;
	/** Replaces a document's listing fields only; its files were not read again. */
	replaceDocument(hub: string, projectId: number, document: string): Promise<void>;
	/** Marks these projects as listed by run `runId`. */
	markListed(hub: string, projectIds: readonly number[], runId: string): Promise<void>;
	/** Up to `limit` projects of a hub that run `runId` did not list, lowest id first. */
	unlisted(hub: string, runId: string, limit: number): Promise<number[]>;
	/** Deletes one project's row. */
	remove(hub: string, projectId: number): Promise<void>;
	/** Deletes the rows of every hub not among `hubs`; returns how many. */
	removeHubsOtherThan(hubs: readonly string[]): Promise<number>;
	/** Every document, by hub then project id. */
	documents(): Promise<string[]>;
}

type Int = number | string;

type SearchTables = {
	arcs_search_index: {
		hub: string;
		project_id: Int;
		last_activity_at: string;
		document: string;
		listed_run: string;
		read_at_ms: Int;
	};
};

export class SqlSearchIndexStore implements SearchIndexStore {
	readonly #db: Kysely<FoundationTables & SearchTables>;

	constructor(db: Kysely<FoundationTables>) {
		this.#db = db.withTables<SearchTables>();
	}

	async entriesOf(
		hub: string,
		projectIds: readonly number[],
	): Promise<Map<number, IndexedProject>> {
		if (projectIds.length === 0) return new Map();
		const rows = await this.#db
			.selectFrom("arcs_search_index")
			.select(["project_id", "last_activity_at", "document"])
			.where("hub", "=", hub)
			.where("project_id", "in", projectIds)
			.execute();
		return new Map(
			rows.map((row) => [
				Number(row.project_id),
				{ lastActivityAt: row.last_activity_at, document: row.document },
			]),
		);
	}

	async saveRead(
		hub: string,
		projectId: number,
		entry: IndexedProject,
		runId: string,
		nowMs: number,
	): Promise<void> {
		const changes = {
			last_activity_at: entry.lastActivityAt,
			document: entry.document,
			listed_run: runId,
			read_at_ms: nowMs,
		};
		await this.#db
			.insertInto("arcs_search_index")
			.values({ hub, project_id: projectId, ...changes })
			.onConflict((conflict) => conflict.columns(["hub", "project_id"]).doUpdateSet(changes))
			.execute();
	}

	async replaceDocument(hub: string, projectId: number, document: string): Promise<void> {
		await this.#db
			.updateTable("arcs_search_index")
			.set({ document })
			.where("hub", "=", hub)
			.where("project_id", "=", projectId)
			.execute();
	}

	async markListed(hub: string, projectIds: readonly number[], runId: string): Promise<void> {
		if (projectIds.length === 0) return;
		await this.#db
			.updateTable("arcs_search_index")
			.set({ listed_run: runId })
			.where("hub", "=", hub)
			.where("project_id", "in", projectIds)
			.execute();
	}

	async unlisted(hub: string, runId: string, limit: number): Promise<number[]> {
		const rows = await this.#db
			.selectFrom("arcs_search_index")
			.select("project_id")
			.where("hub", "=", hub)
			.where("listed_run", "<>", runId)
			.orderBy("project_id")
			.limit(limit)
			.execute();
		return rows.map((row) => Number(row.project_id));
	}

	async remove(hub: string, projectId: number): Promise<void> {
		await this.#db
			.deleteFrom("arcs_search_index")
			.where("hub", "=", hub)
			.where("project_id", "=", projectId)
			.execute();
	}

	async removeHubsOtherThan(hubs: readonly string[]): Promise<number> {
		let query = this.#db.deleteFrom("arcs_search_index");
		if (hubs.length > 0) query = query.where("hub", "not in", hubs);
		const [result] = await query.execute();
		return Number(result?.numDeletedRows ?? 0);
	}

	async documents(): Promise<string[]> {
		const rows = await this.#db
			.selectFrom("arcs_search_index")
			.select("document")
			.orderBy("hub")
			.orderBy("project_id")
			.execute();
		return rows.map((row) => row.document);
	}
}
