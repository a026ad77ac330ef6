/**
 * The original ARCmanager backend's own live tests (specs/arcmanager.md §8: test_files.py and
 * test_projects.py, run there against a real Tübingen account and ARC 230) as Tollgate tests against the
 * fake GitLab, in their order and with their expected statuses; then the original's defects of §0.2
 * #5–#9 shown absent, each by a request the original would have answered differently; and its
 * `getMetrics?pwd=` replaced by Prometheus series per route at /metrics.
 * @see issue 17
 */
import ExcelJS from "exceljs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
	ALICE,
	type ConnectStack,
	HUB,
	loginOverHttp,
	PREFIX,
	repositoriesOf,
	startConnectStack,
} from "../support/connect.ts";
import type { CookieJar } from "../support/cookie-jar.ts";

async function testArcInvestigation(): Promise<Buffer> {
	const workbook = new ExcelJS.Workbook();
	const sheet = workbook.addWorksheet("isa_investigation");
	for (const row of [
		["ONTOLOGY SOURCE REFERENCE"],
		["INVESTIGATION"],
		["Investigation Identifier", "testarc"],
		["Investigation Title", "Test ARC"],
	])
		sheet.addRow(row);
	return Buffer.from(await workbook.xlsx.writeBuffer());
}

async function studyWithAssay(): Promise<Buffer> {
	const workbook = new ExcelJS.Workbook();
	const sheet = workbook.addWorksheet("isa_study");
	for (const row of [
		["STUDY METADATA"],
		["Study Identifier", "study1"],
		["Study File Name", "studies/study1/isa.study.xlsx"],
		["STUDY ASSAYS"],
		["Study Assay Measurement Type"],
		["Study Assay Measurement Type Term Accession Number"],
		["Study Assay Measurement Type Term Source REF"],
		["Study Assay Technology Type"],
		["Study Assay Technology Type Term Accession Number"],
		["Study Assay Technology Type Term Source REF"],
		["Study Assay Technology Platform"],
		["Study Assay File Name"],
	])
		sheet.addRow(row);
	return Buffer.from(await workbook.xlsx.writeBuffer());
}

async function assay(): Promise<Buffer> {
	const workbook = new ExcelJS.Workbook();
	const sheet = workbook.addWorksheet("isa_assay");
	sheet.addRow(["ASSAY METADATA"]);
	sheet.addRow(["Assay Measurement Type", "assay1"]);
	for (let row = 0; row < 6; row += 1) sheet.addRow([`row ${row}`]);
	sheet.addRow(["Assay File Name", "assays/assay1/isa.assay.xlsx"]);
	workbook.addWorksheet("sheet1").addRow(["Input [Source Name]"]);
	return Buffer.from(await workbook.xlsx.writeBuffer());
}

describe("the original backend's live tests, against the fake GitLab", () => {
	let stack: ConnectStack;
	let jar: CookieJar;
	let arc: number;

	beforeAll(async () => {
		stack = await startConnectStack({ repositories: true, overrides: { arcs: { enabled: true } } });
		jar = (await loginOverHttp(stack.base, stack.fake, ALICE.username)).jar;
		const repositories = repositoriesOf(stack.fake);
		arc = repositories.addProject({
			name: "testarc",
			ownerId: ALICE.id,
			visibility: "public",
			files: {
				"README.md": "# testarc",
				"isa.investigation.xlsx": await testArcInvestigation(),
				"assays/assay1/isa.assay.xlsx": await assay(),
				"studies/study1/isa.study.xlsx": await studyWithAssay(),
			},
		});
		repositories.broadcastMessages = [
			{
				id: 1,
				message: "Maintenance on Sunday",
				starts_at: "2026-12-01T00:00:00.000Z",
				ends_at: "2026-12-31T00:00:00.000Z",
				color: "#E75E40",
				font: "#FFFFFF",
				target_access_levels: [],
				target_path: "",
				broadcast_type: "banner",
				dismissable: true,
				active: true,
			},
		];
	});
	afterAll(async () => {
		await stack?.close();
	});

	const call = (path: string, init: RequestInit = {}) =>
		fetch(`${stack.base}${PREFIX}${path}`, {
			...init,
			headers: {
				...(typeof init.body === "string" ? { "content-type": "application/json" } : {}),
				cookie: jar.header(PREFIX),
			},
		});
	const chunk = (text: string, index: number) => {
		const form = new FormData();
		form.append("file", new Blob([text]), "blob");
		form.append("name", "zip-test.zip");
		form.append("id", String(arc));
		form.append("path", "test/zip-test.zip");
		form.append("chunkNumber", String(index));
		form.append("totalChunks", "3");
		return call("/fnf/uploadFile", { method: "POST", body: form });
	};

	it("test_files.py: chunks 0 and 1 of 3 (202, 202), chunk 2 (201), deleteFile, createFolder, renameFolder, deleteFolder", async () => {
		expect((await chunk("PK-part-0|", 0)).status).toBe(202);
		expect((await chunk("part-1|", 1)).status).toBe(202);
		expect((await chunk("part-2", 2)).status).toBe(201);
		expect(stack.fake.repositories?.file(arc, "test/zip-test.zip")?.toString()).toBe(
			"PK-part-0|part-1|part-2",
		);
		expect(
			(
				await call(`/fnf/deleteFile?id=${arc}&path=test/zip-test.zip&branch=main`, {
					method: "DELETE",
				})
			).status,
		).toBe(200);
		expect(
			(
				await call("/fnf/createFolder", {
					method: "POST",
					body: JSON.stringify({ identifier: "testFolder", id: arc, path: "test", branch: "main" }),
				})
			).status,
		).toBe(201);
		expect(
			(
				await call(
					`/fnf/renameFolder?id=${arc}&oldPath=test/testFolder&newPath=test/renamedFolder&branch=main`,
					{ method: "PUT" },
				)
			).status,
		).toBe(200);
		expect(
			(
				await call(`/fnf/deleteFolder?id=${arc}&path=test/renamedFolder&branch=main`, {
					method: "DELETE",
				})
			).status,
		).toBe(200);
		// Another case of this file commits test/test.txt; in any order, nothing of these steps is left.
		expect(
			stack.fake.repositories
				?.paths(arc)
				.filter(
					(path) =>
						path === "test/zip-test.zip" || /^test\/(testFolder|renamedFolder)\//.test(path),
				),
		).toEqual([]);
	});

	it("test_projects.py: listings, tree (a missing ARC 404), path, files, saveFile, commitFile, changes, syncAssay, syncStudy, branches, banner", async () => {
		const list = await call("/projects/arc_list");
		expect(list.status).toBe(200);
		expect(
			((await list.json()) as { projects: { id: number }[] }).projects.map((p) => p.id),
		).toContain(arc);
		const publicArcs = await fetch(`${stack.base}${PREFIX}/projects/public_arcs?target=${HUB}`);
		expect(publicArcs.status).toBe(200);
		expect(((await publicArcs.json()) as { projects: unknown[] }).projects.length).toBeGreaterThan(
			0,
		);
		const tree = await call(`/projects/arc_tree?id=${arc}`);
		expect(tree.status).toBe(200);
		expect(((await tree.json()) as { Arc: unknown[] }).Arc.length).toBeGreaterThan(0);
		expect((await call("/projects/arc_tree?id=232")).status).toBe(404);
		const assays = await call(`/projects/arc_path?id=${arc}&path=assays`);
		expect(assays.status).toBe(200);
		expect(((await assays.json()) as { Arc: { name: string }[] }).Arc.map((e) => e.name)).toEqual([
			"assay1",
		]);
		expect((await call(`/projects/arc_file?id=${arc}&path=isa.investigation.xlsx`)).status).toBe(
			200,
		);
		const readme = await call(`/projects/arc_file?id=${arc}&path=README.md`);
		expect(readme.status).toBe(200);
		expect(await readme.json()).toEqual(expect.objectContaining({ file_name: "README.md" }));
		expect(
			(
				await call("/projects/saveFile", {
					method: "PUT",
					body: JSON.stringify({
						isaInput: [
							"Investigation Identifier",
							"testarc_arcmanager",
							"",
							"this test was successful",
						],
						isaPath: "isa.investigation.xlsx",
						isaRepo: arc,
						arcBranch: "main",
					}),
				})
			).status,
		).toBe(200);
		expect(
			(
				await call(`/projects/commitFile?id=${arc}&repoPath=test/test.txt&branch=main`, {
					method: "PUT",
					body: JSON.stringify({ content: `written at ${new Date().toISOString()}` }),
				})
			).status,
		).toBe(200);
		expect((await call(`/projects/getChanges?id=${arc}`)).status).toBe(200);
		expect(
			(
				await call("/projects/syncAssay", {
					method: "PATCH",
					body: JSON.stringify({
						id: arc,
						pathToStudy: "studies/study1/isa.study.xlsx",
						pathToAssay: "assays/assay1/isa.assay.xlsx",
						assayName: "assay1",
						branch: "main",
					}),
				})
			).status,
		).toBe(200);
		expect(
			(
				await call("/projects/syncStudy", {
					method: "PATCH",
					body: JSON.stringify({
						id: arc,
						pathToStudy: "studies/study1/isa.study.xlsx",
						studyName: "study1",
						branch: "main",
					}),
				})
			).status,
		).toBe(200);
		expect(await (await call(`/projects/getBranches?id=${arc}`)).json()).toEqual(["main"]);
		const banner = await call("/projects/getBanner");
		expect(banner.status).toBe(200);
		expect(await banner.json()).toEqual(
			expect.objectContaining({ message: "Maintenance on Sunday", active: true }),
		);
	});

	it("test_templates.py's getSheets: the assay's annotation sheets", async () => {
		const sheets = await call(`/tnt/getSheets?id=${arc}&path=assays/assay1/isa.assay.xlsx`);
		expect(sheets.status).toBe(200);
		expect(((await sheets.json()) as [unknown[], string[]])[1]).toEqual(["sheet1"]);
	});

	it("has none of the original's defects §0.2 #5–#9", async () => {
		// #5: commitFile took its content from a server path the client named.
		const serverFile = await call(
			`/projects/commitFile?id=${arc}&repoPath=stolen.txt&filePath=/etc/passwd`,
			{ method: "PUT", body: JSON.stringify({ content: "" }) },
		);
		expect(serverFile.status).toBe(422);
		expect(stack.fake.repositories?.file(arc, "stolen.txt")).toBeUndefined();
		// #6: paths and names that leave the ARC's folders.
		const traversal = await call("/projects/createISA", {
			method: "POST",
			body: JSON.stringify({ identifier: "../../x", id: arc, type: "studies" }),
		});
		expect(traversal.status).toBe(422);
		// #7: the unauthenticated crawl and the password in a query string are not served.
		expect(
			(await fetch(`${stack.base}${PREFIX}/search/createArcJson`, { method: "POST" })).status,
		).toBe(404);
		expect((await fetch(`${stack.base}${PREFIX}/projects/getMetrics?pwd=secret`)).status).toBe(404);
		// #8: an ISA edit made meanwhile by someone else is not overwritten (on an ARC of its own: the other
		// cases of this file read this one's investigation, in any order).
		const repositories = repositoriesOf(stack.fake);
		const edited = repositories.addProject({
			name: "edited elsewhere",
			ownerId: ALICE.id,
			files: { "isa.investigation.xlsx": await testArcInvestigation() },
		});
		repositories.beforeNextFileWrite = () =>
			repositories.commitAsSomeoneElse(edited, "isa.investigation.xlsx", Buffer.from("their edit"));
		const lost = await call("/projects/saveFile", {
			method: "PUT",
			body: JSON.stringify({
				isaInput: ["Investigation Title", "mine"],
				isaPath: "isa.investigation.xlsx",
				isaRepo: edited,
				arcBranch: "main",
			}),
		});
		expect(lost.status).toBe(409);
		expect(repositories.file(edited, "isa.investigation.xlsx")?.toString()).toBe("their edit");
		// And a file that is no spreadsheet any more is the user's problem, said so, not a server error.
		const unreadable = await call(`/projects/arc_file?id=${edited}&path=isa.investigation.xlsx`);
		expect(unreadable.status).toBe(400);
		expect(((await unreadable.json()) as { detail: string }).detail).toBe(
			"The file is not a spreadsheet that can be read (.xlsx)",
		);
		// #9: two uploads of one name to different paths do not share chunks.
		const send = (path: string, text: string, index: number) => {
			const form = new FormData();
			form.append("file", new Blob([text]), "blob");
			form.append("name", "same.txt");
			form.append("id", String(arc));
			form.append("path", path);
			form.append("chunkNumber", String(index));
			form.append("totalChunks", "2");
			return call("/fnf/uploadFile", { method: "POST", body: form });
		};
		await send("one/same.txt", "1a|", 0);
		await send("two/same.txt", "2a|", 0);
		await send("one/same.txt", "1b", 1);
		await send("two/same.txt", "2b", 1);
		expect(repositories.file(arc, "one/same.txt")?.toString()).toBe("1a|1b");
		expect(repositories.file(arc, "two/same.txt")?.toString()).toBe("2a|2b");
	});

	it("serves request counts and latencies per arcs route at /metrics (the original's getMetrics)", async () => {
		expect((await call(`/projects/arc_tree?id=${arc}`)).status).toBe(200);
		const form = new FormData();
		form.append("file", new Blob(["half"]), "blob");
		form.append("name", "metrics.txt");
		form.append("id", String(arc));
		form.append("path", "metrics/metrics.txt");
		form.append("chunkNumber", "0");
		form.append("totalChunks", "2");
		expect((await call("/fnf/uploadFile", { method: "POST", body: form })).status).toBe(202);
		const metrics = (await stack.testApp.app.inject({ url: "/metrics" })).body;
		expect(metrics).toMatch(
			/tollgate_http_requests_total\{method="GET",route="\/arcmanager\/api\/v1\/projects\/arc_tree",status_code="200"\} \d+/,
		);
		expect(metrics).toMatch(
			/tollgate_http_request_duration_seconds_bucket\{[^}]*route="\/arcmanager\/api\/v1\/fnf\/uploadFile"/,
		);
		expect(metrics).toMatch(
			/tollgate_connect_upstream_requests_total\{hub="tuebingen",status="200"\} \d+/,
		);
	});
});
