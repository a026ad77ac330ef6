/**
 * ARCmanager's terms and templates routes (/tnt) against loopback fakes of the Swate Template Registry,
 * Swate and the older Swate (test/support/fake-swate.ts): the original's test_templates.py cases, the
 * registry's failure answered from Swate's list, a Swate that never answers (504) or answers an error or
 * no JSON (502); saveTemplate needs a login (the original had none) and keeps the template for that user
 * only, in the database (the original wrote a file named from the body), on every SQL engine.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { type AppBackend, appBackends } from "../support/build-test-app.ts";
import {
	ALICE,
	BOB,
	type ConnectStack,
	loginOverHttp,
	PREFIX,
	startConnectStack,
} from "../support/connect.ts";
import type { CookieJar } from "../support/cookie-jar.ts";
import { FakeSwate } from "../support/fake-swate.ts";

const SWATE_TIMEOUT_MS = 1_000;
const REGISTRY_TEMPLATES = ["RNA extraction", "Plant growth"];

/** The original's pydantic models (app/models/swate/term.py, template.py) that its tests parsed answers with. */
const termShape = z.strictObject({
	Accession: z.string(),
	Name: z.string(),
	Description: z.string(),
	IsObsolete: z.boolean(),
	FK_Ontology: z.string(),
});
const termsShape = z.strictObject({ terms: z.array(termShape) });
const valueShape = z.object({
	annotationValue: z.string(),
	termSource: z.string().nullish(),
	termAccession: z.string().nullish(),
});
const templatesShape = z.object({
	templates: z.array(
		z.object({
			id: z.string(),
			table: z.object({
				name: z.string(),
				header: z.array(
					z.object({ headertype: z.string(), values: z.array(z.union([z.string(), valueShape])) }),
				),
				values: z
					.array(
						z.array(
							z.union([
								z.array(z.number().int()),
								z.object({ celltype: z.string(), values: z.array(z.unknown()) }),
							]),
						),
					)
					.optional(),
			}),
			name: z.string(),
			description: z.string(),
			organisation: z.string(),
			version: z.string(),
			authors: z
				.array(
					z.object({ firstName: z.string(), lastName: z.string(), email: z.string().nullish() }),
				)
				.nullable(),
			endpoint_repositories: z.array(z.unknown()).nullable(),
			tags: z.array(valueShape).nullable(),
			last_updated: z.string(),
		}),
	),
});
type ListedTemplate = z.infer<typeof templatesShape>["templates"][number];
/** Tollgate's error body below the prefix (`detail` is what the frontend shows). */
const failureShape = z.object({ detail: z.string().min(1), error: z.string() });
const failureOf = async (answer: Response) => failureShape.parse(await answer.json());

/** What TemplateEditView sends: Input first, the building blocks, Output last. */
function editorTemplate(overrides: Record<string, unknown> = {}): Record<string, unknown> {
	return {
		table: [
			{
				name: "Input",
				annotationValue: "Source Name",
				termAccession: "",
				termSource: "",
				unit: false,
			},
			{
				name: "Parameter",
				annotationValue: "temperature",
				termAccession: "PATO:0000146",
				termSource: "PATO",
				unit: { name: "degree Celsius", termSource: "UO", termAccession: "UO:0000027" },
			},
			{
				name: "Characteristic",
				annotationValue: "organism",
				termAccession: "OBI:0100026",
				termSource: "OBI",
				unit: false,
			},
			{
				name: "Output",
				annotationValue: "Sample Name",
				termAccession: "",
				termSource: "",
				unit: false,
			},
		],
		name: "Growth chamber protocol",
		identifier: "growth chamber",
		description: "Plants grown at <25 °C>",
		organisation: "Other",
		version: "1.0.0",
		username: { firstName: "Alice", lastName: "Müller", email: "alice@example.org" },
		tags: [{ annotationValue: "organism", termSource: "OBI", termAccession: "OBI:0100026" }],
		...overrides,
	};
}

let registry: FakeSwate;
let swate: FakeSwate;
let legacySwate: FakeSwate;

beforeAll(async () => {
	[registry, swate, legacySwate] = await Promise.all([
		FakeSwate.start(),
		FakeSwate.start(),
		FakeSwate.start(),
	]);
});
afterAll(async () => {
	await Promise.all([registry?.close(), swate?.close(), legacySwate?.close()]);
});

function startStack(backend?: AppBackend): Promise<ConnectStack> {
	return startConnectStack({
		...(backend === undefined ? {} : { backend }),
		overrides: {
			arcs: {
				enabled: true,
				template_registry_url: registry.url,
				swate_url: swate.url,
				swate_legacy_url: legacySwate.url,
				swate_timeout_ms: SWATE_TIMEOUT_MS,
			},
		},
	});
}

/** Runs `check` with `path` of `fake` failing, and the fault removed after. */
async function whileFailing(
	faults: readonly [FakeSwate, string, Parameters<FakeSwate["faults"]["set"]>[1]][],
	check: () => Promise<void>,
): Promise<void> {
	for (const [fake, path, fault] of faults) fake.faults.set(path, fault);
	try {
		await check();
	} finally {
		for (const [fake, path] of faults) fake.faults.delete(path);
	}
}

describe("arcs terms and templates from Swate", () => {
	let stack: ConnectStack;

	beforeAll(async () => {
		stack = await startStack();
	});
	afterAll(async () => {
		await stack?.close();
	});

	const get = (path: string) => fetch(`${stack.base}${PREFIX}/tnt/${path}`);

	it("getTemplates answers the registry's templates, each TemplateContent parsed, without a login (test_getTemplates)", async () => {
		const fallbacksBefore = swate.requestsTo("/api/ITemplateAPIv1/getTemplates").length;
		const answer = await get("getTemplates");
		expect(answer.status).toBe(200);
		const { templates } = templatesShape.parse(await answer.json());
		expect(templates.map((template) => template.name)).toEqual(REGISTRY_TEMPLATES);
		const [rna] = templates;
		expect(rna?.table.header[1]).toEqual({
			headertype: "Parameter",
			values: [
				{
					annotationValue: "temperature",
					termSource: "PATO",
					termAccession: "http://purl.obolibrary.org/obo/PATO_0000146",
				},
			],
		});
		// As the original's response model: the author fields the frontend reads, no more.
		expect(rna?.authors).toEqual([
			{ firstName: "Hajira", lastName: "Jabeen", email: "hajira@example.org" },
		]);
		expect(swate.requestsTo("/api/ITemplateAPIv1/getTemplates")).toHaveLength(fallbacksBefore);
	});

	it("getTemplates leaves out a registry entry that holds no template and lists the others", async () => {
		registry.extraRegistryEntries.push(
			{ TemplateContent: "{ not json" },
			{ TemplateContent: JSON.stringify({ id: "half a template" }) },
			{ TemplateName: "no content" },
		);
		try {
			const answer = await get("getTemplates");
			expect(answer.status).toBe(200);
			const { templates } = templatesShape.parse(await answer.json());
			expect(templates.map((template) => template.name)).toEqual(REGISTRY_TEMPLATES);
		} finally {
			registry.extraRegistryEntries.length = 0;
		}
	});

	it("getTemplates falls back to Swate's ITemplateAPIv1/getTemplates while the registry fails", async () => {
		await whileFailing([[registry, "/api/v1/templates", { status: 503 }]], async () => {
			const before = swate.requestsTo("/api/ITemplateAPIv1/getTemplates").length;
			const answer = await get("getTemplates");
			expect(answer.status).toBe(200);
			const { templates } = templatesShape.parse(await answer.json());
			expect(templates.map((template) => template.name)).toEqual(REGISTRY_TEMPLATES);
			expect(swate.requestsTo("/api/ITemplateAPIv1/getTemplates").length).toBe(before + 1);
		});
		await whileFailing([[registry, "/api/v1/templates", "not-json"]], async () => {
			expect((await get("getTemplates")).status).toBe(200);
		});
	});

	it("getTemplates is 502 when the registry and Swate both fail", async () => {
		await whileFailing(
			[
				[registry, "/api/v1/templates", { status: 503 }],
				[swate, "/api/ITemplateAPIv1/getTemplates", { status: 500 }],
			],
			async () => {
				const answer = await get("getTemplates");
				expect(answer.status).toBe(502);
				expect((await failureOf(answer)).error).toBe("upstream_error");
			},
		);
	});

	it("getTerms?input=organism answers Swate's searchTerm terms, at most 50, with the frontend's extra parameters ignored (test_getTerms)", async () => {
		const answer = await get(
			"getTerms?input=organism&advanced=false&parentName=&parentTermAccession=",
		);
		expect(answer.status).toBe(200);
		const { terms } = termsShape.parse(await answer.json());
		expect(terms).toHaveLength(50);
		expect(terms[0]).toEqual({
			Accession: "OBI:0100026",
			Name: "organism",
			Description: "A material entity that is an individual living system.",
			IsObsolete: false,
			FK_Ontology: "OBI",
		});
		expect(swate.requestsTo("/api/IOntologyAPIv3/searchTerm").at(-1)).toEqual({
			method: "POST",
			path: "/api/IOntologyAPIv3/searchTerm",
			body: [{ limit: 50, query: "organism" }],
		});
	});

	it("getTermSuggestionsByParentTerm organism / OBI:0100026 answers every term below it (test_getTermSuggestions)", async () => {
		const answer = await get(
			"getTermSuggestionsByParentTerm?parentName=organism&parentTermAccession=OBI:0100026",
		);
		expect(answer.status).toBe(200);
		const names = termsShape.parse(await answer.json()).terms.map((term) => term.Name);
		expect(names).toContain("Arabidopsis thaliana");
		expect(names).toContain("Oryza sativa Japonica Group");
		expect(names).not.toContain("organism part");
		expect(names).toHaveLength(63);
	});

	it("the deprecated getTermSuggestions asks the older Swate for n terms (20 unless told)", async () => {
		const fallback = await get("getTermSuggestions?input=organism");
		expect(fallback.status).toBe(200);
		expect(termsShape.parse(await fallback.json()).terms).toHaveLength(20);
		const three = await get("getTermSuggestions?input=organism&n=3");
		expect(termsShape.parse(await three.json()).terms).toHaveLength(3);
		expect(legacySwate.requestsTo("/api/IOntologyAPIv2/getTermSuggestions").at(-1)?.body).toEqual([
			{ n: 3, ontology: null, query: "organism" },
		]);
		expect(swate.requestsTo("/api/IOntologyAPIv2/getTermSuggestions")).toEqual([]);
	});

	it("the deprecated getTemplate answers the older Swate protocol's building blocks, 502 for one it does not have", async () => {
		const answer = await get("getTemplate?id=1SPL01_plants");
		expect(answer.status).toBe(200);
		const { templateBB } = z
			.object({
				templateBB: z.array(z.object({ ColumnTerm: z.object({ TermAccession: z.string() }) })),
			})
			.parse(await answer.json());
		expect(templateBB.map((block) => block.ColumnTerm.TermAccession)).toEqual(["OBI:0100026"]);
		const unknown = await get("getTemplate?id=no_such_protocol");
		expect(unknown.status).toBe(502);
	});

	it("a Swate that never answers is 504 with a detail once swate_timeout_ms has passed", async () => {
		await whileFailing([[swate, "/api/IOntologyAPIv3/searchTerm", "never-answers"]], async () => {
			const startedMs = Date.now();
			const answer = await get("getTerms?input=organism");
			expect(answer.status).toBe(504);
			expect(Date.now() - startedMs).toBeGreaterThanOrEqual(SWATE_TIMEOUT_MS - 50);
			const body = await failureOf(answer);
			expect(body.error).toBe("upstream_unavailable");
			expect(body.detail).toEqual(expect.any(String));
			expect(body.detail).not.toBe("");
		});
	});

	it("a Swate that answers an error status or no JSON is 502 (the original said 400 and 500)", async () => {
		for (const fault of [{ status: 500 }, { status: 404 }, "not-json"] as const)
			await whileFailing(
				[[swate, "/api/IOntologyAPIv2/getAllTermsByParentTerm", fault]],
				async () => {
					const answer = await get(
						"getTermSuggestionsByParentTerm?parentName=organism&parentTermAccession=OBI:0100026",
					);
					expect(answer.status, JSON.stringify(fault)).toBe(502);
					const body = await failureOf(answer);
					expect(body.error).toBe("upstream_error");
					expect(body.detail).toEqual(expect.any(String));
				},
			);
	});

	it("getTerms without input is 422 naming it", async () => {
		const answer = await get("getTerms");
		expect(answer.status).toBe(422);
		expect((await failureOf(answer)).detail).toContain("input");
	});
});

for (const backend of appBackends()) {
	describe.skipIf(backend.skip)(`arcs saveTemplate (${backend.name})`, () => {
		let stack: ConnectStack;
		let alice: CookieJar;
		let bob: CookieJar;

		beforeAll(async () => {
			stack = await startStack(backend);
			alice = (await loginOverHttp(stack.base, stack.fake, ALICE.username)).jar;
			bob = (await loginOverHttp(stack.base, stack.fake, BOB.username)).jar;
		});
		afterAll(async () => {
			await stack?.close();
		});

		const save = (jar: CookieJar | null, body: unknown, headers: Record<string, string> = {}) =>
			fetch(`${stack.base}${PREFIX}/tnt/saveTemplate`, {
				method: "PUT",
				body: JSON.stringify(body),
				headers: {
					"content-type": "application/json",
					...(jar === null ? {} : { cookie: jar.header(PREFIX) }),
					...headers,
				},
			});
		const listedFor = async (jar: CookieJar | null): Promise<ListedTemplate[]> => {
			const answer = await fetch(`${stack.base}${PREFIX}/tnt/getTemplates`, {
				headers: jar === null ? {} : { cookie: jar.header(PREFIX) },
			});
			expect(answer.status).toBe(200);
			return templatesShape.parse(await answer.json()).templates;
		};
		const ownOf = async (jar: CookieJar | null) =>
			(await listedFor(jar)).filter((template) => !REGISTRY_TEMPLATES.includes(template.name));

		it("refuses saveTemplate without a login (401) and keeps nothing", async () => {
			const answer = await save(null, editorTemplate({ name: "anonymous attempt" }));
			expect(answer.status).toBe(401);
			expect((await failureOf(answer)).detail).toBe("You are not logged in");
			for (const jar of [null, alice, bob])
				expect((await ownOf(jar)).map((template) => template.name)).not.toContain(
					"anonymous attempt",
				);
		});

		it("saves a logged-in user's template as Swate template JSON (204), listed after the registry's for them only", async () => {
			const answer = await save(
				alice,
				editorTemplate({ identifier: "../../templates/growth chamber" }),
			);
			expect(answer.status).toBe(204);
			const listed = await listedFor(alice);
			expect(listed.slice(0, 2).map((template) => template.name)).toEqual(REGISTRY_TEMPLATES);
			// Other cases of this file save templates of their own (in any order): this one's is found by name.
			const own = listed
				.slice(2)
				.filter((template) => template.table.name === "../../templates/growth_chamber");
			expect(own).toHaveLength(1);
			const [saved] = own;
			expect(saved?.id).toMatch(
				/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
			);
			expect(saved).toEqual({
				id: saved?.id,
				table: {
					// Only a name: no file is written, whatever the identifier holds.
					name: "../../templates/growth_chamber",
					header: [
						{ headertype: "Input", values: ["Source Name"] },
						{
							headertype: "Parameter",
							values: [
								{
									annotationValue: "temperature",
									termSource: "PATO",
									termAccession: "PATO:0000146",
								},
							],
						},
						{
							headertype: "Characteristic",
							values: [
								{ annotationValue: "organism", termSource: "OBI", termAccession: "OBI:0100026" },
							],
						},
						{ headertype: "Output", values: ["Sample Name"] },
					],
					values: [
						[[0, 0], { celltype: "FreeText", values: [""] }],
						[
							[1, 0],
							{
								celltype: "Unitized",
								values: [
									"",
									{
										annotationValue: "degree Celsius",
										termSource: "UO",
										termAccession: "UO:0000027",
									},
								],
							},
						],
						[
							[2, 0],
							{
								celltype: "Term",
								values: [{ annotationValue: "", termSource: "", termAccession: "" }],
							},
						],
						[[3, 0], { celltype: "FreeText", values: [""] }],
					],
				},
				name: "Growth chamber protocol",
				description: "Plants grown at <25 °C>",
				organisation: "Other",
				version: "1.0.0",
				authors: [{ firstName: "Alice", lastName: "Müller", email: "alice@example.org" }],
				endpoint_repositories: [],
				tags: [{ annotationValue: "organism", termSource: "OBI", termAccession: "OBI:0100026" }],
				last_updated: new Date(stack.testApp.clock.nowMs()).toISOString(),
			});
			expect((await ownOf(bob)).map((template) => template.table.name)).not.toContain(
				"../../templates/growth_chamber",
			);
			expect(await ownOf(null)).toEqual([]);
		});

		it("replaces the user's template of the same identifier, keeps their others and leaves another user's alone", async () => {
			expect(
				(await save(bob, editorTemplate({ name: "Bob's", identifier: "shared id" }))).status,
			).toBe(204);
			const first = editorTemplate({ name: "first", identifier: "shared id" });
			expect((await save(alice, first)).status).toBe(204);
			expect(
				(await save(alice, { ...first, name: "second", identifier: "shared_id", version: "1.1.0" }))
					.status,
			).toBe(204);
			expect(
				(await save(alice, editorTemplate({ name: "other", identifier: "other id" }))).status,
			).toBe(204);
			const aliceOwn = await ownOf(alice);
			const sharedId = aliceOwn.filter((template) => template.table.name === "shared_id");
			expect(sharedId.map((template) => [template.name, template.version])).toEqual([
				["second", "1.1.0"],
			]);
			expect(aliceOwn.map((template) => template.name)).toContain("other");
			expect(
				(await ownOf(bob))
					.filter((template) => template.table.name === "shared_id")
					.map((template) => template.name),
			).toEqual(["Bob's"]);
		});

		it("answers a body that is not a template with 422 naming the field, and keeps nothing", async () => {
			const before = await ownOf(alice);
			const withoutName = editorTemplate({
				name: "not saved",
				table: [{ annotationValue: "Source Name", termAccession: "", termSource: "" }],
			});
			const missing = await save(alice, withoutName);
			expect(missing.status).toBe(422);
			expect((await failureOf(missing)).detail).toContain("body.table.0.name");
			const emptyIdentifier = await save(
				alice,
				editorTemplate({ name: "not saved", identifier: "" }),
			);
			expect(emptyIdentifier.status).toBe(422);
			expect((await failureOf(emptyIdentifier)).detail).toContain("body.identifier");
			expect(await ownOf(alice)).toEqual(before);
		});

		it("refuses a saveTemplate sent from another site's page (403)", async () => {
			const answer = await save(alice, editorTemplate({ name: "cross-site", identifier: "csrf" }), {
				origin: "https://evil.example",
			});
			expect(answer.status).toBe(403);
			expect((await ownOf(alice)).map((template) => template.name)).not.toContain("cross-site");
		});
	});
}
