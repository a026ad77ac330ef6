/**
 * ARCmanager's ISA-structure routes against the fake GitLab, every file read back with an xlsx reader
 * independent of the exceljs Tollgate writes with: createArc (a private project, the ARC's folders and an
 * investigation with its values, in one commit), createISA on the request's branch (the original edited
 * `main`), addDatamap, repairArc, syncAssay and syncStudy on that branch, getSheets and saveSheet (an Excel
 * table), a concurrent edit refused with 409, bad names refused.
 * @see issue 17
 */
import ExcelJS from "exceljs";
import JSZip from "jszip";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
	ALICE,
	type ConnectStack,
	loginOverHttp,
	PREFIX,
	repositoriesOf,
	startConnectStack,
} from "../support/connect.ts";
import type { CookieJar } from "../support/cookie-jar.ts";
import { readXlsx } from "../support/xlsx-reader.ts";

/** The cell right of the first one labelled `label` in sheet `sheet`. */
function valueRightOf(
	cells: Map<string, Map<string, string>>,
	sheet: string,
	label: string,
	column = "B",
): string | undefined {
	const sheetCells = cells.get(sheet);
	for (const [reference, value] of sheetCells ?? [])
		if (reference.startsWith("A") && value === label)
			return sheetCells?.get(`${column}${reference.slice(1)}`);
	return undefined;
}

describe("arcs ISA structure", () => {
	let stack: ConnectStack;
	let jar: CookieJar;

	beforeAll(async () => {
		stack = await startConnectStack({
			repositories: true,
			overrides: { arcs: { enabled: true } },
		});
		jar = (await loginOverHttp(stack.base, stack.fake, ALICE.username)).jar;
	});
	afterAll(async () => {
		await stack?.close();
	});

	const repos = () => repositoriesOf(stack.fake);
	const call = (path: string, method = "GET", body?: unknown) =>
		fetch(`${stack.base}${PREFIX}${path}`, {
			method,
			headers: {
				cookie: jar.header(PREFIX),
				...(body === undefined ? {} : { "content-type": "application/json" }),
			},
			...(body === undefined ? {} : { body: JSON.stringify(body) }),
		});
	const xlsxOf = async (id: number, path: string, branch = "main") => {
		const bytes = repos().file(id, path, branch);
		if (bytes === undefined) throw new Error(`no ${path} on ${branch}`);
		return readXlsx(bytes);
	};

	it("creates an ARC: a private project with its folders and an investigation holding its identifier, title and description", async () => {
		const answer = await call("/projects/createArc", "POST", {
			name: "Drought stress",
			description: "Leaves <b>under</b> drought",
			investIdentifier: "drought stress 2026",
		});
		expect(answer.status).toBe(201);
		const [projectText, commitText] = (await answer.json()) as [string, string];
		const project = JSON.parse(projectText) as { id: number; visibility: string };
		expect(project.visibility).toBe("private");
		expect(JSON.parse(commitText)).toEqual(
			expect.objectContaining({ title: "Initial commit of the arc structure" }),
		);
		expect(repos().paths(project.id)).toEqual([
			".arc/.gitkeep",
			"README.md",
			"assays/.gitkeep",
			"isa.investigation.xlsx",
			"runs/.gitkeep",
			"studies/.gitkeep",
			"workflows/.gitkeep",
		]);
		const cells = await xlsxOf(project.id, "isa.investigation.xlsx");
		expect(valueRightOf(cells, "isa_investigation", "Investigation Identifier")).toBe(
			"drought_stress_2026",
		);
		expect(valueRightOf(cells, "isa_investigation", "Investigation Title")).toBe("Drought stress");
		expect(valueRightOf(cells, "isa_investigation", "Investigation Description")).toBe(
			"Leaves &lt;b&gt;under&lt;/b&gt; drought",
		);
		const rows = (await (
			await call(`/projects/arc_file?id=${project.id}&path=isa.investigation.xlsx`)
		).json()) as (string | null)[][];
		const investigation = rows.findIndex((row) => row[0] === "INVESTIGATION");
		expect(rows[investigation + 1]?.slice(0, 2)).toEqual([
			"Investigation Identifier",
			"drought_stress_2026",
		]);
	});

	it("creates a study and an assay on the request's branch only, their identifiers written, then syncs the assay into the study and the study into the investigation, and an edit of the assay reaches both", async () => {
		const created = (await (
			await call("/projects/createArc", "POST", { name: "Sync ARC", investIdentifier: "sync" })
		).json()) as [string, string];
		const id = (JSON.parse(created[0]) as { id: number }).id;
		repos().addBranch(id, "dev");
		const study = await call("/projects/createISA", "POST", {
			identifier: "leaf study",
			id,
			type: "studies",
			branch: "dev",
		});
		expect(study.status).toBe(201);
		for (const identifier of ["rna seq", "proteomics"])
			expect(
				(
					await call("/projects/createISA", "POST", {
						identifier,
						id,
						type: "assays",
						branch: "dev",
					})
				).status,
			).toBe(201);
		expect(repos().paths(id, "dev")).toEqual(
			expect.arrayContaining([
				"studies/leaf_study/isa.study.xlsx",
				"studies/leaf_study/README.md",
				"studies/leaf_study/protocols/.gitkeep",
				"studies/leaf_study/resources/.gitkeep",
				"assays/rna_seq/isa.assay.xlsx",
				"assays/rna_seq/dataset/.gitkeep",
			]),
		);
		expect(repos().paths(id, "main")).not.toContain("studies/leaf_study/isa.study.xlsx");
		const studyCells = await xlsxOf(id, "studies/leaf_study/isa.study.xlsx", "dev");
		expect(valueRightOf(studyCells, "isa_study", "Study Identifier")).toBe("leaf_study");
		expect(
			valueRightOf(
				await xlsxOf(id, "assays/rna_seq/isa.assay.xlsx", "dev"),
				"isa_assay",
				"Assay File Name",
			),
		).toBe("assays/rna_seq/isa.assay.xlsx");

		const syncAssay = (assay: string) =>
			call("/projects/syncAssay", "PATCH", {
				id,
				pathToStudy: "studies/leaf_study/isa.study.xlsx",
				pathToAssay: `assays/${assay}/isa.assay.xlsx`,
				assayName: assay,
				branch: "dev",
			});
		expect((await syncAssay("rna_seq")).status).toBe(200);
		expect((await syncAssay("proteomics")).status).toBe(200);
		expect((await syncAssay("rna_seq")).status).toBe(200);
		const synced = await xlsxOf(id, "studies/leaf_study/isa.study.xlsx", "dev");
		expect(valueRightOf(synced, "isa_study", "Study Assay File Name", "B")).toBe(
			"assays/rna_seq/isa.assay.xlsx",
		);
		expect(valueRightOf(synced, "isa_study", "Study Assay File Name", "C")).toBe(
			"assays/proteomics/isa.assay.xlsx",
		);
		expect(valueRightOf(synced, "isa_study", "Study Assay File Name", "D")).toBeUndefined();
		expect(valueRightOf(synced, "isa_study", "Study Assay Measurement Type", "C")).toBe(
			"proteomics",
		);

		const syncStudy = () =>
			call("/projects/syncStudy", "PATCH", {
				id,
				pathToStudy: "studies/leaf_study/isa.study.xlsx",
				studyName: "leaf_study",
				branch: "dev",
			});
		expect((await syncStudy()).status).toBe(200);
		expect((await syncStudy()).status).toBe(200);
		const investigation = await xlsxOf(id, "isa.investigation.xlsx", "dev");
		const identifiers = [...(investigation.get("isa_investigation") ?? [])].filter(
			([reference, value]) => reference.startsWith("A") && value === "Study Identifier",
		);
		expect(identifiers).toHaveLength(1);
		expect(valueRightOf(investigation, "isa_investigation", "Study Identifier")).toBe("leaf_study");
		expect(valueRightOf(investigation, "isa_investigation", "Study Assay File Name", "C")).toBe(
			"assays/proteomics/isa.assay.xlsx",
		);
		expect(
			valueRightOf(
				await xlsxOf(id, "isa.investigation.xlsx", "main"),
				"isa_investigation",
				"Study Identifier",
			),
		).toBeUndefined();

		const edited = await call("/projects/saveFile", "PUT", {
			isaInput: ["Assay Technology Platform", "Illumina NovaSeq"],
			isaPath: "assays/rna_seq/isa.assay.xlsx",
			isaRepo: id,
			arcBranch: "dev",
		});
		expect(edited.status).toBe(200);
		expect(
			valueRightOf(
				await xlsxOf(id, "studies/leaf_study/isa.study.xlsx", "dev"),
				"isa_study",
				"Study Assay Technology Platform",
			),
		).toBe("Illumina NovaSeq");
		expect(
			valueRightOf(
				await xlsxOf(id, "isa.investigation.xlsx", "dev"),
				"isa_investigation",
				"Study Assay Technology Platform",
			),
		).toBe("Illumina NovaSeq");
	});

	it("adds a second study as a new STUDY block of the investigation", async () => {
		const created = (await (
			await call("/projects/createArc", "POST", { name: "Two studies", investIdentifier: "two" })
		).json()) as [string, string];
		const id = (JSON.parse(created[0]) as { id: number }).id;
		for (const identifier of ["first", "second"]) {
			await call("/projects/createISA", "POST", { identifier, id, type: "studies" });
			expect(
				(
					await call("/projects/syncStudy", "PATCH", {
						id,
						pathToStudy: `studies/${identifier}/isa.study.xlsx`,
						studyName: identifier,
					})
				).status,
			).toBe(200);
		}
		const sheet = (await xlsxOf(id, "isa.investigation.xlsx")).get("isa_investigation");
		const studyIdentifiers = [...(sheet ?? [])]
			.filter(([reference, value]) => reference.startsWith("A") && value === "Study Identifier")
			.map(([reference]) => sheet?.get(`B${reference.slice(1)}`));
		expect(studyIdentifiers).toEqual(["first", "second"]);
	});

	it("reads annotation sheets and replaces one with an Excel table; an edit made meanwhile is 409", async () => {
		const workbook = new ExcelJS.Workbook();
		workbook.addWorksheet("isa_assay").addRow(["ASSAY METADATA"]);
		const growth = workbook.addWorksheet("growth");
		growth.addRow(["Input [Source Name]", "Parameter [temperature]"]);
		growth.addRow(["plant 1", 21]);
		const id = repos().addProject({
			name: "Sheets ARC",
			ownerId: ALICE.id,
			files: { "assays/a/isa.assay.xlsx": Buffer.from(await workbook.xlsx.writeBuffer()) },
		});
		const sheets = await call(`/tnt/getSheets?id=${id}&path=assays/a/isa.assay.xlsx`);
		expect(sheets.status).toBe(200);
		expect(await sheets.json()).toEqual([
			[
				{
					columns: ["Input [Source Name]", "Parameter [temperature]"],
					index: [0],
					data: [["plant 1", 21]],
				},
			],
			["growth"],
		]);
		const saved = await call("/tnt/saveSheet", "PUT", {
			tableHead: [{ Type: "Input [Source Name]" }, { Type: "Characteristic [leaf]", Custom: true }],
			tableContent: [
				["plant 1", "plant 2"],
				["green", "<yellow>"],
			],
			path: "assays/a/isa.assay.xlsx",
			id,
			name: "leaves",
		});
		expect(saved.status).toBe(200);
		const bytes = repos().file(id, "assays/a/isa.assay.xlsx") ?? Buffer.alloc(0);
		const cells = await readXlsx(bytes);
		expect(cells.get("leaves")?.get("B1")).toBe("Characteristic [leaf] [C]");
		expect(cells.get("leaves")?.get("B3")).toBe("&lt;yellow&gt;");
		expect(cells.get("growth")?.get("A2")).toBe("plant 1");
		const zip = await JSZip.loadAsync(bytes);
		const tables = await Promise.all(
			Object.keys(zip.files)
				.filter((name) => name.startsWith("xl/tables/"))
				.map((name) => zip.file(name)?.async("string") ?? ""),
		);
		expect(tables.join("\n")).toMatch(/name="annotationTableleaves"[^>]*ref="A1:B3"/);
		expect(tables.join("\n")).toContain('name="TableStyleMedium11"');

		repos().beforeNextFileWrite = () =>
			repos().commitAsSomeoneElse(id, "assays/a/isa.assay.xlsx", Buffer.from("edited elsewhere"));
		const stale = await call("/tnt/saveSheet", "PUT", {
			tableHead: [{ Type: "Input [Source Name]" }],
			tableContent: [["plant 3"]],
			path: "assays/a/isa.assay.xlsx",
			id,
			name: "leaves",
		});
		expect(stale.status).toBe(409);
		expect(repos().file(id, "assays/a/isa.assay.xlsx")?.toString()).toBe("edited elsewhere");
	});

	it("adds a datamap that arc_file shows as [sheets, names], and repairs an ARC that lacks its structure", async () => {
		const id = repos().addProject({ name: "Bare", ownerId: ALICE.id, files: { "README.md": "x" } });
		const repaired = await call(`/projects/repairArc?id=${id}`, "POST", {
			name: "Bare",
			investIdentifier: "bare arc",
		});
		expect(repaired.status).toBe(201);
		expect(repos().paths(id)).toEqual(
			expect.arrayContaining(["isa.investigation.xlsx", "studies/.gitkeep", ".arc/.gitkeep"]),
		);
		expect(
			valueRightOf(
				await xlsxOf(id, "isa.investigation.xlsx"),
				"isa_investigation",
				"Investigation Identifier",
			),
		).toBe("bare_arc");
		const again = await call(`/projects/repairArc?id=${id}`, "POST", {
			name: "Bare",
			investIdentifier: "renamed",
		});
		expect(again.status).toBe(201);
		expect(
			valueRightOf(
				await xlsxOf(id, "isa.investigation.xlsx"),
				"isa_investigation",
				"Investigation Identifier",
			),
		).toBe("renamed");

		expect((await call("/projects/addDatamap", "POST", { id, path: "studies" })).status).toBe(201);
		const datamap = (await (
			await call(`/projects/arc_file?id=${id}&path=studies/isa.datamap.xlsx`)
		).json()) as [{ columns: string[] }[], string[]];
		expect(datamap[1]).toEqual(["isa_datamap"]);
		expect(datamap[0][0]?.columns[0]).toBe("Data");
	});

	it("refuses a name that leaves its folder (422), a study without STUDY ASSAYS (400), and a request without a login (401)", async () => {
		const id = repos().addProject({
			name: "Odd",
			ownerId: ALICE.id,
			files: {
				"studies/s/isa.study.xlsx": Buffer.from(
					await (() => {
						const workbook = new ExcelJS.Workbook();
						workbook.addWorksheet("isa_study").addRow(["STUDY METADATA"]);
						return workbook.xlsx.writeBuffer();
					})(),
				),
				"assays/a/isa.assay.xlsx": Buffer.from(
					await (() => {
						const workbook = new ExcelJS.Workbook();
						workbook.addWorksheet("isa_assay").addRow(["ASSAY METADATA"]);
						return workbook.xlsx.writeBuffer();
					})(),
				),
			},
		});
		const outside = await call("/projects/createISA", "POST", {
			identifier: "../x",
			id,
			type: "studies",
		});
		expect(outside.status).toBe(422);
		expect(((await outside.json()) as { detail: string }).detail).toMatch(/identifier/);
		const noBlock = await call("/projects/syncAssay", "PATCH", {
			id,
			pathToStudy: "studies/s/isa.study.xlsx",
			pathToAssay: "assays/a/isa.assay.xlsx",
			assayName: "a",
		});
		expect(noBlock.status).toBe(400);
		expect(((await noBlock.json()) as { detail: string }).detail).toBe(
			"Study has no STUDY ASSAYS field",
		);
		const anonymous = await fetch(`${stack.base}${PREFIX}/projects/createISA`, {
			method: "POST",
			headers: { "content-type": "application/json" },
			body: JSON.stringify({ identifier: "x", id, type: "studies" }),
		});
		expect(anonymous.status).toBe(401);
	});

	it("validates an ARC on the request's branch: structure, second sheets, the investigation's rows and contacts, and whether Invenio could take it", async () => {
		const created = (await (
			await call("/projects/createArc", "POST", { name: "Checked", investIdentifier: "checked" })
		).json()) as [string, string];
		const id = (JSON.parse(created[0]) as { id: number }).id;
		repos().addBranch(id, "review");
		await call("/projects/createISA", "POST", {
			identifier: "s1",
			id,
			type: "studies",
			branch: "review",
		});
		const edits = [
			["Investigation Submission Date", "2026-11-30"],
			["Investigation Public Release Date", "30.11.2026"],
			["Investigation Person Last Name", "Müller", "Curie"],
			["Investigation Person First Name", "Alice", "Marie"],
			["Investigation Person Email", "alice@example.org", "not-an-address"],
			["Investigation Person Affiliation", "Uni", "Sorbonne"],
			["Comment[ORCID]", "0000-0002-1825-0097", "0000-0002-1825-0098"],
		];
		const saved = await call("/projects/saveFile", "PUT", {
			isaInput: edits,
			isaPath: "isa.investigation.xlsx",
			isaRepo: id,
			arcBranch: "review",
			multiple: true,
		});
		expect(saved.status).toBe(200);
		const answer = await call(`/validate/validateArc?id=${id}&branch=review`);
		expect(answer.status).toBe(200);
		const report = (await answer.json()) as {
			structure: { isValid: boolean };
			isaInvestigation: {
				correctSheetName: { isValid: boolean };
				requiredFields: Record<string, boolean>;
				additionalFields: Record<string, boolean>;
				contacts: Record<string, boolean>[];
				messages: string[];
			};
			studies: {
				name: string;
				structure: { isValid: boolean };
				isaFileHasSecondSheet: { messages: string[] };
			}[];
			invenioPublishable: { isValid: boolean; messages: string[] };
		};
		expect(report.structure.isValid).toBe(true);
		expect(report.studies).toEqual([
			{
				name: "s1",
				structure: { isValid: true, messages: [] },
				isaFileHasSecondSheet: {
					isValid: false,
					messages: ["No second sheet in 'studies/s1/isa.study.xlsx'"],
				},
			},
		]);
		expect(report.isaInvestigation.correctSheetName.isValid).toBe(true);
		expect(report.isaInvestigation.requiredFields).toEqual({
			identifier: true,
			title: true,
			description: false,
		});
		expect(report.isaInvestigation.additionalFields).toEqual({
			submissionDate: true,
			releaseDate: false,
		});
		expect(report.isaInvestigation.contacts).toEqual([
			{ lastName: true, firstName: true, email: true, affiliation: true, orcid: true },
			{ lastName: true, firstName: true, email: false, affiliation: true, orcid: true },
		]);
		expect(report.isaInvestigation.messages).toEqual([
			"No entry found for 'Investigation Description'",
			"No valid value for 'Investigation Public Release Date' found in 'isa.investigation.xlsx'.",
			"Contact 2: No valid value for 'Investigation Person Email'",
		]);
		expect(report.invenioPublishable).toEqual({ isValid: true, messages: [] });
		const onMain = (await (await call(`/validate/validateArc?id=${id}`)).json()) as {
			studies: unknown[];
			invenioPublishable: { isValid: boolean; messages: string[] };
		};
		expect(onMain.studies).toEqual([]);
		expect(onMain.invenioPublishable.messages).toEqual([
			"Last name is missing for publishing to invenio.",
			"First name is missing for publishing to invenio.",
		]);
		const bare = repos().addProject({
			name: "Not an ARC",
			ownerId: ALICE.id,
			files: { "a.txt": "" },
		});
		expect((await call(`/validate/validateArc?id=${bare}`)).status).toBe(404);
	});
});
