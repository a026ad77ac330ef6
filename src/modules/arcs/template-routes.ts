/**
 * ARCmanager's terms and templates routes (specs/arcmanager.md §6.8): Swate templates from the template
 * registry (Swate's own list when the registry fails) plus the logged-in user's custom ones, ontology terms
 * from Swate, and saveTemplate, which needs a login (the original had none, §0.2 #7) and keeps the template
 * in the database for that user (the original wrote a file named from the body, §0.2 #6).
 */
import { randomUUID } from "node:crypto";
import type { FastifyBaseLogger, FastifyRequest } from "fastify";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { AppError } from "#errors";
import type { ArcsContext } from "./route-context.ts";
import { type FailureText, SwateClient } from "./swate-client.ts";
import { SqlTemplateStore, type TemplateOwner } from "./template-store.ts";

const tags = ["arcs"];

const annotation = z.object({
	annotationValue: z.string(),
	termSource: z.string().nullish(),
	termAccession: z.string().nullish(),
});
const templateCell = z.object({
	celltype: z.string().meta({ description: '"FreeText", "Term", "Unitized", …' }),
	values: z.array(z.union([z.string(), z.record(z.string(), z.unknown())])),
});
const template = z
	.object({
		id: z.string(),
		table: z.object({
			name: z.string(),
			header: z.array(
				z.object({ headertype: z.string(), values: z.array(z.union([z.string(), annotation])) }),
			),
			values: z
				.array(z.tuple([z.array(z.number().int()), templateCell]))
				.optional()
				.meta({ description: "`[[column, row], cell]` pairs." }),
		}),
		name: z.string(),
		description: z.string(),
		organisation: z.string(),
		version: z.string(),
		authors: z
			.array(z.object({ firstName: z.string(), lastName: z.string(), email: z.string().nullish() }))
			.nullish(),
		endpoint_repositories: z.array(z.unknown()).nullish(),
		tags: z.array(annotation).nullish(),
		last_updated: z.string(),
	})
	.meta({ description: "A Swate template (ARCtrl's template JSON)." });
type Template = z.infer<typeof template>;

const term = z.object({
	Accession: z.string(),
	Name: z.string(),
	Description: z.string(),
	IsObsolete: z.boolean(),
	FK_Ontology: z.string(),
});
const termsBody = z.object({ terms: z.array(term) });

const termFields = {
	Name: z.string(),
	TermAccession: z.string(),
	toNumberFormat: z.string(),
	accessionToTSR: z.string(),
	accessionToTAN: z.string(),
};
/** The legacy Swate protocol's building block, as the original's model had it. */
const buildingBlock = z.object({
	ColumnHeader: z.object({
		Type: z.string(),
		Name: z.string(),
		isSingleColumn: z.boolean(),
		isInputColumn: z.boolean(),
		isOutputColumn: z.boolean(),
		isFeaturedColumn: z.boolean(),
		isTermColumn: z.boolean(),
	}),
	ColumnTerm: z.object(termFields),
	UnitTerm: z.object(termFields).nullable(),
	Rows: z.array(z.unknown()),
	HasUnit: z.boolean(),
	HasExistingTerm: z.boolean(),
	HasCompleteTerm: z.boolean(),
	HasValues: z.boolean(),
});

const ontologyReference = {
	termSource: z.string().max(2_000).default(""),
	termAccession: z.string().max(2_000).default(""),
};
const column = z.object({
	name: z
		.string()
		.min(1)
		.max(255)
		.meta({ description: 'The header type: "Input", "Output", "Parameter", "Characteristic", …' }),
	annotationValue: z.string().max(2_000),
	...ontologyReference,
	unit: z
		.union([z.boolean(), z.object({ name: z.string().max(2_000), ...ontologyReference })])
		.default(false)
		.meta({ description: "The column's unit term, or false for none." }),
});
const saveTemplateBody = z.object({
	table: z.array(column).max(1_000),
	name: z.string().max(1_000),
	identifier: z.string().min(1).max(255),
	description: z.string().max(20_000),
	organisation: z.string().max(1_000),
	version: z.string().max(100),
	username: z
		.object({
			firstName: z.string().max(500),
			lastName: z.string().max(500),
			email: z.string().max(500).optional(),
		})
		.meta({ description: "The template's author, as the template editor names them." }),
	tags: z
		.array(z.object({ annotationValue: z.string().max(2_000), ...ontologyReference }))
		.max(500),
});
type SaveTemplateBody = z.output<typeof saveTemplateBody>;
type Column = SaveTemplateBody["table"][number];

const registryEntry = z.object({ TemplateContent: z.string() });

/** What the original told the frontend, which shows `detail` to the user. */
const TERMS_FAILURE: FailureText = {
	unavailable: "No terms could be found in time!",
	failed: "Your request couldn't be processed!",
};
const TEMPLATES_FAILURE: FailureText = {
	unavailable: "The template registry and Swate did not answer in time!",
	failed: "Couldn't receive swate templates",
};

function joinUrl(origin: string, path: string): string {
	return `${origin.replace(/\/+$/, "")}${path}`;
}

function isInputOrOutput(column: Column): boolean {
	return column.name === "Input" || column.name === "Output";
}

/** The cell a column's first row starts with, as the original's template editor mapping made it. */
function firstCellOf(column: Column): z.infer<typeof templateCell> {
	if (isInputOrOutput(column)) return { celltype: "FreeText", values: [""] };
	if (typeof column.unit === "object")
		return {
			celltype: "Unitized",
			values: [
				"",
				{
					annotationValue: column.unit.name,
					termSource: column.unit.termSource,
					termAccession: column.unit.termAccession,
				},
			],
		};
	return {
		celltype: "Term",
		values: [{ annotationValue: "", termSource: "", termAccession: "" }],
	};
}

/** The Swate template JSON of the template editor's body (§6.8). */
function swateTemplateOf(body: SaveTemplateBody, tableName: string, savedAtMs: number): Template {
	return {
		id: randomUUID(),
		table: {
			name: tableName,
			header: body.table.map((column) => ({
				headertype: column.name,
				values: isInputOrOutput(column)
					? [column.annotationValue]
					: [
							{
								annotationValue: column.annotationValue,
								termSource: column.termSource,
								termAccession: column.termAccession,
							},
						],
			})),
			values: body.table.map((column, index) => [[index, 0], firstCellOf(column)]),
		},
		name: body.name,
		description: body.description,
		organisation: body.organisation,
		version: body.version,
		authors: [body.username],
		endpoint_repositories: [],
		tags: body.tags,
		last_updated: new Date(savedAtMs).toISOString(),
	};
}

/**
 * The templates among `items` (template objects, or JSON texts of one). One that does not parse is left
 * out, so a single broken entry of the registry does not hide all the others.
 */
function templatesAmong(items: readonly unknown[], log: FastifyBaseLogger): Template[] {
	const templates: Template[] = [];
	let skipped = 0;
	for (const item of items) {
		let value: unknown = item;
		if (typeof item === "string")
			try {
				value = JSON.parse(item);
			} catch {
				value = undefined;
			}
		const parsed = template.safeParse(value);
		if (parsed.success) templates.push(parsed.data);
		else skipped += 1;
	}
	if (skipped > 0) log.warn({ skipped }, "arcs: templates that are not Swate templates left out");
	return templates;
}

/** Swate's ITemplateAPIv1.getTemplates answers a JSON text of the template list (ARCtrl's encoding). */
function swateTemplateList(answer: unknown): unknown[] {
	let list = answer;
	if (typeof answer === "string")
		try {
			list = JSON.parse(answer);
		} catch (error) {
			throw new AppError("upstream_error", { description: TEMPLATES_FAILURE.failed, cause: error });
		}
	if (!Array.isArray(list))
		throw new AppError("upstream_error", {
			description: TEMPLATES_FAILURE.failed,
			cause: "Swate's template list is not a list",
		});
	return list;
}

export const templateRoutes: FastifyPluginAsyncZod<ArcsContext> = async (
	app,
	{ connect, section, storage, clock },
) => {
	const base = `${connect.prefix}/tnt`;
	const swate = new SwateClient(section.swate_timeout_ms);
	const store = new SqlTemplateStore(storage.sql.db);
	const failures = { 502: connect.detailBody, 504: connect.detailBody };
	const queryFailures = { 422: connect.detailBody, ...failures };

	/** The login's owner key, or null without one: getTemplates answers anonymous requests too. */
	const ownerOf = async (request: FastifyRequest): Promise<TemplateOwner | null> => {
		try {
			const { session } = await connect.requireSession(request);
			return { hub: session.hub.name, subject: session.subject };
		} catch (error) {
			if (error instanceof AppError && error.code === "unauthorized") return null;
			throw error;
		}
	};

	const sharedTemplates = async (log: FastifyBaseLogger): Promise<Template[]> => {
		try {
			const answer = await swate.read(
				joinUrl(section.template_registry_url, "/api/v1/templates"),
				TEMPLATES_FAILURE,
			);
			const entries = z.array(z.unknown()).parse(answer);
			return templatesAmong(
				entries.map((entry) => registryEntry.safeParse(entry).data?.TemplateContent),
				log,
			);
		} catch (error) {
			log.warn({ err: error }, "arcs: the template registry failed; asking Swate for templates");
		}
		// A GET, as the original called it: Fable.Remoting takes one for a function without arguments.
		const answer = await swate.read(
			joinUrl(section.swate_url, "/api/ITemplateAPIv1/getTemplates"),
			TEMPLATES_FAILURE,
		);
		return templatesAmong(swateTemplateList(answer), log);
	};

	const termsFrom = async (url: string, args: readonly unknown[]) => {
		const answer = await swate.invoke(url, args, TERMS_FAILURE);
		const parsed = z.array(term).safeParse(answer);
		if (!parsed.success)
			throw new AppError("upstream_error", {
				description: "No valid Terms could be found/parsed!",
				cause: parsed.error,
			});
		return { terms: parsed.data };
	};

	app.get(
		`${base}/getTemplates`,
		{
			schema: {
				tags,
				summary:
					"Swate templates: the template registry's (Swate's when the registry fails), then the logged-in user's own; no login needed.",
				response: { 200: z.object({ templates: z.array(template) }), ...failures },
			},
		},
		async (request) => {
			const [shared, owner] = await Promise.all([sharedTemplates(request.log), ownerOf(request)]);
			const own = owner === null ? [] : await store.listOf(owner);
			return {
				templates: [...shared, ...own.map((json) => template.parse(JSON.parse(json)))],
			};
		},
	);

	app.get(
		`${base}/getTerms`,
		{
			schema: {
				tags,
				summary: "Up to 50 ontology terms matching `input` (Swate's IOntologyAPIv3/searchTerm).",
				querystring: z.object({
					input: z.string().max(1_000),
					advanced: z.string().optional().meta({ description: "Sent by the frontend; ignored." }),
					parentName: z.string().optional().meta({ description: "Sent by the frontend; ignored." }),
					parentTermAccession: z
						.string()
						.optional()
						.meta({ description: "Sent by the frontend; ignored." }),
				}),
				response: { 200: termsBody, ...queryFailures },
			},
		},
		async (request) =>
			termsFrom(joinUrl(section.swate_url, "/api/IOntologyAPIv3/searchTerm"), [
				{ limit: 50, query: request.query.input },
			]),
	);

	app.get(
		`${base}/getTermSuggestionsByParentTerm`,
		{
			schema: {
				tags,
				summary: "Every term below a parent term (Swate's IOntologyAPIv2/getAllTermsByParentTerm).",
				querystring: z.object({
					parentName: z.string().max(1_000),
					parentTermAccession: z.string().max(1_000),
				}),
				response: { 200: termsBody, ...queryFailures },
			},
		},
		async (request) =>
			termsFrom(joinUrl(section.swate_url, "/api/IOntologyAPIv2/getAllTermsByParentTerm"), [
				{ Name: request.query.parentName, TermAccession: request.query.parentTermAccession },
			]),
	);

	app.get(
		`${base}/getTermSuggestions`,
		{
			schema: {
				tags,
				deprecated: true,
				summary:
					"Deprecated (the template editor still uses it): `n` terms for `input` from the older Swate (IOntologyAPIv2/getTermSuggestions).",
				querystring: z.object({
					input: z.string().max(1_000),
					n: z.coerce.number().int().min(1).max(1_000).default(20),
				}),
				response: { 200: termsBody, ...queryFailures },
			},
		},
		async (request) =>
			termsFrom(joinUrl(section.swate_legacy_url, "/api/IOntologyAPIv2/getTermSuggestions"), [
				{ n: request.query.n, ontology: null, query: request.query.input },
			]),
	);

	app.get(
		`${base}/getTemplate`,
		{
			schema: {
				tags,
				deprecated: true,
				summary:
					"Deprecated: a protocol's building blocks from the older Swate (IProtocolAPIv1/getProtocolById).",
				querystring: z.object({ id: z.string().min(1).max(255) }),
				response: { 200: z.object({ templateBB: z.array(buildingBlock) }), ...queryFailures },
			},
		},
		async (request) => {
			const failure = {
				unavailable: "The template could not be found in time!",
				failed: `Couldn't find template with id: ${request.query.id}`,
			};
			const answer = await swate.invoke(
				joinUrl(section.swate_legacy_url, "/api/IProtocolAPIv1/getProtocolById"),
				[request.query.id],
				failure,
			);
			const parsed = z.object({ TemplateBuildingBlocks: z.array(buildingBlock) }).safeParse(answer);
			if (!parsed.success)
				throw new AppError("upstream_error", { description: failure.failed, cause: parsed.error });
			return { templateBB: parsed.data.TemplateBuildingBlocks };
		},
	);

	app.put(
		`${base}/saveTemplate`,
		{
			preHandler: connect.refuseCrossSite,
			schema: {
				tags,
				summary:
					"Save a template of the template editor as a Swate template of the logged-in user (getTemplates lists it for them); the same identifier again replaces it.",
				body: saveTemplateBody,
				response: {
					204: z.null().describe("Saved."),
					401: connect.detailBody,
					403: connect.detailBody,
					422: connect.detailBody,
				},
			},
		},
		async (request, reply) => {
			const { session } = await connect.requireSession(request);
			// The original's file name replaced spaces: "a b" and "a_b" are one template, as there.
			const identifier = request.body.identifier.replaceAll(" ", "_");
			const savedAtMs = clock.nowMs();
			const built = swateTemplateOf(request.body, identifier, savedAtMs);
			await store.save(
				{ hub: session.hub.name, subject: session.subject },
				identifier,
				JSON.stringify(built),
				savedAtMs,
			);
			return reply.code(204).send(null);
		},
	);
};
