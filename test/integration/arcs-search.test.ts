/**
 * ARCmanager's search of public ARCs (specs/arcmanager.md §6.2) against fake GitLab hubs: the leased job
 * arcs.search_index lists every public project of each hub anonymously (every page) and getArcJson
 * answers its documents without a login: the project's fields, license, the assays each study's
 * isa.study.xlsx names, the investigation's identifier, contacts and publications. Private projects are
 * absent, one made private leaves, one whose last_activity_at is unchanged is not read again, a hub
 * that is down keeps its entries while the others are indexed, and before the first run the index is an
 * empty array (the original answered 500). createArcJson, the original's open crawl (§0.2 #7), is gone.
 */
import ExcelJS from "exceljs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AppBackend, appBackends } from "../support/build-test-app.ts";
import {
	ALICE,
	BOB,
	type ConnectStack,
	HUB,
	PREFIX,
	repositoriesOf,
	startConnectStack,
} from "../support/connect.ts";
import { FakeGitLab } from "../support/fake-gitlab.ts";

const FIELD_ORDER = [
	"datahub",
	"id",
	"name",
	"description",
	"topics",
	"author",
	"created_at",
	"last_activity",
	"license",
	"identifier",
	"url",
	"assay_study_relation",
	"contacts",
	"publications",
];

interface SearchEntry {
	readonly datahub: string;
	readonly id: number;
	readonly name: string;
	readonly identifier: string;
	readonly last_activity: string;
	readonly [field: string]: unknown;
}

async function workbook(sheetName: string, rows: readonly (string | number)[][]): Promise<Buffer> {
	const book = new ExcelJS.Workbook();
	const sheet = book.addWorksheet(sheetName);
	for (const row of rows) sheet.addRow([...row]);
	book.addWorksheet("notes").addRow(["free text"]);
	return Buffer.from(await book.xlsx.writeBuffer());
}

/** An investigation as ARCitect writes one: two publications, two contacts (and an ORCID comment). */
function investigation(identifier: string): Promise<Buffer> {
	return workbook("isa_investigation", [
		["ONTOLOGY SOURCE REFERENCE"],
		["Term Source Name", "OBI"],
		["INVESTIGATION"],
		["Investigation Identifier", identifier],
		["Investigation Title", "Plant growth"],
		["INVESTIGATION PUBLICATIONS"],
		["Investigation Publication PubMed ID", 12345678],
		["Investigation Publication DOI", "10.1000/growth", "10.1000/light"],
		["Investigation Publication Author List", "Müller A", "Bob B"],
		["Investigation Publication Title", "Growing plants", "Light and plants"],
		["Investigation Publication Status", "published"],
		["Investigation Publication Status Term Accession Number"],
		["Investigation Publication Status Term Source REF"],
		["INVESTIGATION CONTACTS"],
		["Investigation Person Last Name", "Müller", "Bob"],
		["Investigation Person First Name", "Alice", "B"],
		["Investigation Person Mid Initials"],
		["Investigation Person Email", "alice@example.org"],
		["Investigation Person Phone", 5551234],
		["Investigation Person Fax"],
		["Investigation Person Address"],
		["Investigation Person Affiliation", "University of Tübingen"],
		["Investigation Person Roles", "researcher"],
		["Investigation Person Roles Term Accession Number"],
		["Investigation Person Roles Term Source REF"],
		["Comment[ORCID]", "0000-0001-2345-6789"],
		["STUDY"],
		["Study Identifier", "field"],
	]);
}

const contact = (values: Record<string, string | number>) => ({
	"Investigation Person Last Name": null,
	"Investigation Person First Name": null,
	"Investigation Person Mid Initials": null,
	"Investigation Person Email": null,
	"Investigation Person Phone": null,
	"Investigation Person Fax": null,
	"Investigation Person Address": null,
	"Investigation Person Affiliation": null,
	"Investigation Person Roles": null,
	"Investigation Person Roles Term Accession Number": null,
	"Investigation Person Roles Term Source REF": null,
	...values,
});

const publication = (values: Record<string, string | number>) => ({
	"Investigation Publication PubMed ID": null,
	"Investigation Publication DOI": null,
	"Investigation Publication Author List": null,
	"Investigation Publication Title": null,
	"Investigation Publication Status": null,
	"Investigation Publication Status Term Accession Number": null,
	"Investigation Publication Status Term Source REF": null,
	...values,
});

/** A study whose isa.study.xlsx names two assays, one path with `/` and one with `\`. */
function study(): Promise<Buffer> {
	return workbook("isa_study", [
		["STUDY"],
		["Study Identifier", "field"],
		["STUDY ASSAYS"],
		["Study Assay Measurement Type", "growth", "imaging"],
		["Study Assay File Name", "growth/isa.assay.xlsx", "assays\\imaging\\isa.assay.xlsx"],
	]);
}

async function arcFiles(identifier: string): Promise<Record<string, string | Buffer>> {
	return {
		"isa.investigation.xlsx": await investigation(identifier),
		LICENSE: "MIT License\n\nCopyright (c) 2026 Alice\n",
		"studies/field/isa.study.xlsx": await study(),
		"studies/greenhouse/protocols/.gitkeep": "",
		"assays/growth/isa.assay.xlsx": "assay",
		"assays/imaging/isa.assay.xlsx": "assay",
		"assays/orphan/isa.assay.xlsx": "assay",
	};
}

function startStack(
	backend: AppBackend,
	options: { searchHubs?: string[]; extraHubs?: Record<string, unknown> } = {},
): Promise<ConnectStack> {
	return startConnectStack({
		backend,
		repositories: true,
		connect: { hubs: options.extraHubs ?? {}, upstream_retries: 0 },
		overrides: { arcs: { enabled: true, search_hubs: options.searchHubs ?? [HUB] } },
	});
}

async function runIndex(stack: ConnectStack): Promise<void> {
	const job = stack.testApp.jobs.find((candidate) => candidate.name === "arcs.search_index");
	if (job === undefined) throw new Error("no arcs.search_index job");
	await job.run({ signal: new AbortController().signal, nowMs: stack.testApp.clock.nowMs() });
}

/** getArcJson as the frontend's ArcSearchView calls it: no credentials. */
async function searchIndex(stack: ConnectStack): Promise<SearchEntry[]> {
	const answer = await fetch(`${stack.base}${PREFIX}/search/getArcJson`);
	expect(answer.status).toBe(200);
	expect(answer.headers.get("content-type")).toContain("application/json");
	return (await answer.json()) as SearchEntry[];
}

const entryOf = (entries: readonly SearchEntry[], id: number, hub = HUB) =>
	entries.find((entry) => entry.id === id && entry.datahub === hub);

for (const backend of appBackends()) {
	describe.skipIf(backend.skip)(`arcs search index before its first run (${backend.name})`, () => {
		let stack: ConnectStack;

		beforeAll(async () => {
			stack = await startStack(backend);
		});
		afterAll(async () => {
			await stack?.close();
		});

		it("answers an empty array without a login, and serves no createArcJson", async () => {
			repositoriesOf(stack.fake).addProject({
				name: "Waiting ARC",
				ownerId: ALICE.id,
				visibility: "public",
			});
			expect(await searchIndex(stack)).toEqual([]);
			const crawl = await fetch(`${stack.base}${PREFIX}/search/createArcJson`, { method: "POST" });
			expect(crawl.status).toBe(404);
			expect(stack.fake.apiRequestCount).toBe(0);
		});
	});

	describe.skipIf(backend.skip)(`arcs search index (${backend.name})`, () => {
		let stack: ConnectStack;

		beforeAll(async () => {
			stack = await startStack(backend);
		});
		afterAll(async () => {
			await stack?.close();
		});

		const repos = () => repositoriesOf(stack.fake);
		/** The hub's REST requests made while `work` runs. */
		const requestsDuring = async (work: () => Promise<void>) => {
			const before = stack.fake.apiRequestCount;
			await work();
			const made = stack.fake.apiRequestCount - before;
			return made === 0 ? [] : stack.fake.apiRequests.slice(-made);
		};

		it("indexes every public ARC over every page with the §6.2 fields, and no private one", async () => {
			const id = repos().addProject({
				name: "Plant Growth ARC",
				ownerId: ALICE.id,
				visibility: "public",
				description: "Growing plants",
				files: await arcFiles("plant_growth"),
			});
			const bare = Array.from({ length: 120 }, (_, index) =>
				repos().addProject({ name: `Bare ARC ${index}`, ownerId: BOB.id, visibility: "public" }),
			);
			const privateId = repos().addProject({
				name: "Private ARC",
				ownerId: ALICE.id,
				files: await arcFiles("secret"),
			});
			await runIndex(stack);
			const entries = await searchIndex(stack);
			const entry = entryOf(entries, id);
			expect(entry).toEqual({
				datahub: HUB,
				id,
				name: "Plant Growth ARC",
				description: "Growing plants",
				topics: [],
				author: { name: ALICE.username, username: ALICE.username },
				created_at: "2026-11-01 10:00:00",
				last_activity: "2026-11-30 12:00:00",
				license: {
					key: "mit",
					name: "MIT License",
					nickname: null,
					html_url: "https://opensource.org/licenses/MIT",
					source_url: null,
				},
				identifier: "plant_growth",
				url: `https://gitlab.example/${ALICE.username}/plant-growth-arc.git`,
				assay_study_relation: {
					field: ["growth", "imaging"],
					greenhouse: [],
					other: ["orphan"],
				},
				contacts: [
					contact({
						"Investigation Person Last Name": "Müller",
						"Investigation Person First Name": "Alice",
						"Investigation Person Email": "alice@example.org",
						"Investigation Person Phone": 5551234,
						"Investigation Person Affiliation": "University of Tübingen",
						"Investigation Person Roles": "researcher",
					}),
					contact({
						"Investigation Person Last Name": "Bob",
						"Investigation Person First Name": "B",
					}),
				],
				publications: [
					publication({
						"Investigation Publication PubMed ID": 12345678,
						"Investigation Publication DOI": "10.1000/growth",
						"Investigation Publication Author List": "Müller A",
						"Investigation Publication Title": "Growing plants",
						"Investigation Publication Status": "published",
					}),
					publication({
						"Investigation Publication DOI": "10.1000/light",
						"Investigation Publication Author List": "Bob B",
						"Investigation Publication Title": "Light and plants",
					}),
				],
			});
			expect(Object.keys(entry ?? {})).toEqual(FIELD_ORDER);
			for (const bareId of bare)
				expect(entryOf(entries, bareId), `bare ARC ${bareId}`).toMatchObject({
					identifier: "",
					license: null,
					assay_study_relation: {},
					contacts: [],
					publications: [],
				});
			expect(entryOf(entries, privateId)).toBeUndefined();
			expect(entries.some((candidate) => candidate.name === "Private ARC")).toBe(false);
		});

		it("reads a project again only once its last_activity_at has moved on", async () => {
			const id = repos().addProject({
				name: "Steady ARC",
				ownerId: ALICE.id,
				visibility: "public",
				files: await arcFiles("steady_v1"),
			});
			await runIndex(stack);
			const below = `/api/v4/projects/${id}`;
			const unchanged = await requestsDuring(() => runIndex(stack));
			expect(unchanged.some((request) => request.url.startsWith("/api/v4/projects?"))).toBe(true);
			expect(unchanged.filter((request) => request.url.startsWith(below))).toEqual([]);
			expect(entryOf(await searchIndex(stack), id)?.identifier).toBe("steady_v1");

			repos().commitAsSomeoneElse(id, "isa.investigation.xlsx", await investigation("steady_v2"));
			repos().touch(id, "2026-12-02T08:30:00.000Z");
			const changed = await requestsDuring(() => runIndex(stack));
			expect(
				changed.some(
					(request) =>
						request.url === `${below}/repository/files/isa.investigation.xlsx/raw?ref=main`,
				),
			).toBe(true);
			const entry = entryOf(await searchIndex(stack), id);
			expect(entry?.identifier).toBe("steady_v2");
			expect(entry?.last_activity).toBe("2026-12-02 08:30:00");
		});

		it("removes a project once it is no longer public", async () => {
			const id = repos().addProject({
				name: "Shy ARC",
				ownerId: BOB.id,
				visibility: "public",
				files: await arcFiles("shy"),
			});
			await runIndex(stack);
			expect(entryOf(await searchIndex(stack), id)?.name).toBe("Shy ARC");
			const project = repos().projects.get(id);
			if (project === undefined) throw new Error("the project is gone");
			repos().projects.set(id, { ...project, visibility: "private" });
			await runIndex(stack);
			expect(entryOf(await searchIndex(stack), id)).toBeUndefined();
		});
	});

	describe.skipIf(backend.skip)(`arcs search index with a hub down (${backend.name})`, () => {
		const SECOND_HUB = "freiburg";
		let stack: ConnectStack;
		let secondHub: FakeGitLab;

		beforeAll(async () => {
			secondHub = await FakeGitLab.start(0, { repositories: true });
			secondHub.addUser(BOB);
			stack = await startStack(backend, {
				searchHubs: [HUB, SECOND_HUB],
				extraHubs: {
					[SECOND_HUB]: { issuer: secondHub.url, client_id: "arcmanager", client_secret: "s" },
				},
			});
		});
		afterAll(async () => {
			await stack?.close();
			await secondHub?.close();
		});

		it("keeps a hub's entries while it is down and still indexes the others", async () => {
			const there = repositoriesOf(secondHub).addProject({
				name: "Freiburg ARC",
				ownerId: BOB.id,
				visibility: "public",
				files: await arcFiles("freiburg_arc"),
			});
			const here = repositoriesOf(stack.fake).addProject({
				name: "Tübingen ARC",
				ownerId: ALICE.id,
				visibility: "public",
			});
			await runIndex(stack);
			const before = await searchIndex(stack);
			expect(entryOf(before, there, SECOND_HUB)?.identifier).toBe("freiburg_arc");
			expect(entryOf(before, here)?.name).toBe("Tübingen ARC");

			await secondHub.close();
			const later = repositoriesOf(stack.fake).addProject({
				name: "Later ARC",
				ownerId: ALICE.id,
				visibility: "public",
			});
			await runIndex(stack);
			const after = await searchIndex(stack);
			expect(entryOf(after, there, SECOND_HUB)).toEqual(entryOf(before, there, SECOND_HUB));
			expect(entryOf(after, later)?.name).toBe("Later ARC");
			expect(
				stack.testApp
					.logs()
					.some(
						(line) =>
							line.hub === SECOND_HUB &&
							line.msg ===
								"arcs: the search index keeps the hub's previous entries: it could not be read",
					),
			).toBe(true);
		});
	});
}
