/**
 * The custom Swate templates users save with /tnt/saveTemplate (specs/arcmanager.md §6.8), one row per
 * user and identifier. The original wrote `templates/{first}-{last}-{identifier}.json` below BACKEND_SAVE,
 * a path from the request body (§0.2 #6), and showed every file to everyone: here a template belongs to
 * the hub and subject of the login that saved it, and its identifier is only a key.
 */
import type { Kysely } from "kysely";
import type { FoundationTables } from "../../storage/index.ts";

export interface TemplateOwner {
	readonly hub: string;
	readonly subject: string;
}

export interface TemplateStore {
	/** Stores the template JSON under the owner's identifier, replacing theirs of that identifier. */
	save(
		owner: TemplateOwner,
		identifier: string,
		templateJson: string,
		savedAtMs: number,
	): Promise<void>;
	/** The owner's template JSON texts, oldest save first. */
	listOf(owner: TemplateOwner): Promise<string[]>;
}

type Int = number | string;

type TemplateTables = {
	arcs_templates: {
		hub: string;
		subject: string;
		identifier: string;
		template_json: string;
		saved_at_ms: Int;
	};
};

export class SqlTemplateStore implements TemplateStore {
	readonly #db: Kysely<FoundationTables & TemplateTables>;

	constructor(db: Kysely<FoundationTables>) {
		this.#db = db.withTables<TemplateTables>();
	}

	async save(
		owner: TemplateOwner,
		identifier: string,
		templateJson: string,
		savedAtMs: number,
	): Promise<void> {
		// One statement, so two saves racing for one identifier leave one row, the later one's.
		await this.#db
			.insertInto("arcs_templates")
			.values({
				hub: owner.hub,
				subject: owner.subject,
				identifier,
				template_json: templateJson,
				saved_at_ms: savedAtMs,
			})
			.onConflict((conflict) =>
				conflict
					.columns(["hub", "subject", "identifier"])
					.doUpdateSet({ template_json: templateJson, saved_at_ms: savedAtMs }),
			)
			.execute();
	}

	async listOf(owner: TemplateOwner): Promise<string[]> {
		const rows = await this.#db
			.selectFrom("arcs_templates")
			.select("template_json")
			.where("hub", "=", owner.hub)
			.where("subject", "=", owner.subject)
			.orderBy("saved_at_ms")
			.orderBy("identifier")
			.execute();
		return rows.map((row) => row.template_json);
	}
}
