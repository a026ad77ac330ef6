/**
 * The ARCmanager API (arcs) against a fake GitLab's repositories (test/support/fake-gitlab-repos.ts),
 * logged in through connect: listings with `total-pages`, trees over every page, studies and assays past
 * the original's first twenty, file contents sanitised, 413 over the limit, commitFile from the body only
 * with a stale edit refused (409), folders created, deleted and renamed in one commit with .gitattributes
 * kept in step, members and groups, the banner.
 * @see issue 17
 */
import ExcelJS from "exceljs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
	ALICE,
	BOB,
	type ConnectStack,
	HUB,
	loginOverHttp,
	PREFIX,
	repositoriesOf,
	startConnectStack,
} from "../support/connect.ts";
import type { CookieJar } from "../support/cookie-jar.ts";
import { readXlsx } from "../support/xlsx-reader.ts";

/** An ISA investigation as ARCitect writes one: the metadata sheet first, another after it. */
async function investigation(identifier = "old_id"): Promise<Buffer> {
	const workbook = new ExcelJS.Workbook();
	const sheet = workbook.addWorksheet("isa_investigation");
	for (const row of [
		["ONTOLOGY SOURCE REFERENCE"],
		["Term Source Name", "OBI"],
		["INVESTIGATION"],
		["Investigation Identifier", identifier],
		["Investigation Title", "Old title"],
		["Investigation Description", "to be cleared", "second"],
	])
		sheet.addRow(row);
	workbook.addWorksheet("notes").addRow(["free text"]);
	return Buffer.from(await workbook.xlsx.writeBuffer());
}

async function plainSheet(): Promise<Buffer> {
	const workbook = new ExcelJS.Workbook();
	const sheet = workbook.addWorksheet("plate");
	sheet.addRow(["Well", "OD600"]);
	sheet.addRow(["A1", 0.25]);
	sheet.addRow(["A2"]);
	return Buffer.from(await workbook.xlsx.writeBuffer());
}

describe("arcs with a GitLab hub", () => {
	let stack: ConnectStack;
	let jar: CookieJar;

	beforeAll(async () => {
		stack = await startConnectStack({
			repositories: true,
			overrides: { arcs: { enabled: true, max_file_bytes: 20_000 } },
		});
		jar = (await loginOverHttp(stack.base, stack.fake, ALICE.username)).jar;
	});
	afterAll(async () => {
		await stack?.close();
	});

	const repos = () => repositoriesOf(stack.fake);
	const call = (path: string, init: RequestInit = {}) =>
		fetch(`${stack.base}${PREFIX}${path}`, {
			...init,
			headers: {
				...(init.body === undefined ? {} : { "content-type": "application/json" }),
				...(init.headers as Record<string, string>),
				cookie: jar.header(PREFIX),
			},
		});

	it("lists the user's ARCs with total-pages (GET and HEAD), owned ones only when asked, and public ones without a login", async () => {
		for (let index = 0; index < 25; index += 1)
			repos().addProject({ name: `Alice ARC ${index}`, ownerId: ALICE.id });
		const publicId = repos().addProject({
			name: "Bob public ARC",
			ownerId: BOB.id,
			visibility: "public",
		});
		repos().addProject({ name: "Bob private ARC", ownerId: BOB.id });
		const first = await call("/projects/arc_list?page=1");
		expect(first.status).toBe(200);
		expect(first.headers.get("total-pages")).toBe("2");
		const firstPage = (await first.json()) as { projects: { name: string }[] };
		expect(firstPage.projects).toHaveLength(20);
		const head = await call("/projects/arc_list?owned=true", { method: "HEAD" });
		expect(head.headers.get("total-pages")).toBe("2");
		const second = (await (await call("/projects/arc_list?owned=true&page=2")).json()) as {
			projects: { name: string }[];
		};
		expect(second.projects.every((project) => project.name.startsWith("Alice"))).toBe(true);
		const anonymous = await fetch(`${stack.base}${PREFIX}/projects/public_arcs?target=${HUB}`);
		expect(anonymous.status).toBe(200);
		const publicArcs = (await anonymous.json()) as { projects: { id: number }[] };
		expect(publicArcs.projects.map((project) => project.id)).toContain(publicId);
		expect(publicArcs.projects).toHaveLength(1);
		const noLogin = await fetch(`${stack.base}${PREFIX}/projects/arc_list`);
		expect(noLogin.status).toBe(401);
	});

	it("reads the tree over every page, studies and assays past the first twenty, branches and changes", async () => {
		const files: Record<string, string> = { "isa.investigation.xlsx": "x", ".arc/.gitkeep": "" };
		for (let index = 0; index < 105; index += 1)
			files[`top-${String(index).padStart(3, "0")}.txt`] = "t";
		for (let index = 0; index < 25; index += 1) {
			files[`studies/study-${index}/isa.study.xlsx`] = "s";
			files[`assays/assay-${index}/isa.assay.xlsx`] = "a";
		}
		const id = repos().addProject({ name: "Big ARC", ownerId: ALICE.id, files });
		const tree = (await (await call(`/projects/arc_tree?id=${id}`)).json()) as {
			Arc: { path: string }[];
		};
		expect(tree.Arc.length).toBe(105 + 4);
		expect(tree.Arc[0]).toEqual(
			expect.objectContaining({ type: expect.any(String), mode: expect.any(String) }),
		);
		const folder = await call(`/projects/arc_path?id=${id}&path=studies&page=2`);
		expect(folder.status).toBe(200);
		expect(folder.headers.get("total-pages")).toBe("2");
		const studies = (await (await call(`/projects/getStudies?id=${id}`)).json()) as string[];
		expect(studies).toHaveLength(25);
		expect(studies).toContain("study-24");
		expect(((await (await call(`/projects/getAssays?id=${id}`)).json()) as string[]).length).toBe(
			25,
		);
		expect(await (await call(`/projects/getBranches?id=${id}`)).json()).toEqual(["main"]);
		const changes = (await (await call(`/projects/getChanges?id=${id}`)).json()) as string[];
		expect(changes).toEqual(["2026-11-01: Initial commit"]);
		expect((await call(`/projects/arc_tree?id=${id}&branch=nope`)).status).toBe(404);
		expect((await call("/projects/arc_tree?id=999999")).status).toBe(404);
	});

	it("shows a file: text sanitised as the original did, others as GitLab's JSON, 413 over the limit", async () => {
		const id = repos().addProject({
			name: "Files ARC",
			ownerId: ALICE.id,
			files: {
				"README.md": "# Hi <script>alert(1)</script> and <iframe src=x></iframe>",
				"data.json": '{"a":1}',
				"big.bin": Buffer.alloc(30_000, 1),
			},
		});
		const readme = (await (await call(`/projects/arc_file?id=${id}&path=README.md`)).json()) as {
			content: string;
			last_commit_id: string;
		};
		expect(Buffer.from(readme.content, "base64").toString("utf8")).toBe(
			"# Hi ---here was a script tag---alert(1) and ---here was a iframe tag---",
		);
		expect(readme.last_commit_id).toMatch(/^[0-9a-f]{40}$/);
		const data = (await (await call(`/projects/arc_file?id=${id}&path=data.json`)).json()) as {
			content: string;
		};
		expect(Buffer.from(data.content, "base64").toString("utf8")).toBe('{"a":1}');
		const big = await call(`/projects/arc_file?id=${id}&path=big.bin`);
		expect(big.status).toBe(413);
		expect(((await big.json()) as { detail: string }).detail).toBe("File too large! (over 50 MB)");
		expect((await call(`/projects/arc_file?id=${id}&path=missing.txt`)).status).toBe(404);
	});

	it("shows a file kept in Git LFS as its content, and a PDF as a page embedding it with a link to the raw file", async () => {
		const id = repos().addProject({ name: "LFS files ARC", ownerId: ALICE.id });
		const notes = Buffer.from("Measured <script>x</script> at noon\n");
		const pdf = Buffer.from("%PDF-1.4\n%fake but shaped like one\n");
		repos().commitAsSomeoneElse(id, "notes.md", Buffer.from(repos().addLfsObject(id, notes)));
		repos().commitAsSomeoneElse(id, "docs/protocol v2.pdf", pdf);
		repos().commitAsSomeoneElse(
			id,
			"huge.md",
			Buffer.from(
				`version https://git-lfs.github.com/spec/v1\noid sha256:${"a".repeat(64)}\nsize 999999999\n`,
			),
		);
		const shown = (await (await call(`/projects/arc_file?id=${id}&path=notes.md`)).json()) as {
			content: string;
			size: number;
		};
		expect(Buffer.from(shown.content, "base64").toString("utf8")).toBe(
			"Measured ---here was a script tag---x at noon\n",
		);
		expect(shown.size).toBe(notes.length);
		expect((await call(`/projects/arc_file?id=${id}&path=huge.md`)).status).toBe(413);
		const page = await call(`/projects/arc_file?id=${id}&path=docs/protocol%20v2.pdf`);
		expect(page.status).toBe(200);
		expect(page.headers.get("content-type")).toMatch(/^text\/html/);
		const html = await page.text();
		expect(html).toContain(`data:application/pdf;base64,${pdf.toString("base64")}`);
		expect(html).toContain("/-/raw/main/docs/protocol%20v2.pdf?inline=false");
	});

	it("commits a file from the body only, refuses a server path, and answers a stale edit 409", async () => {
		const id = repos().addProject({
			name: "Commit ARC",
			ownerId: ALICE.id,
			files: { "notes.txt": "old" },
		});
		const before = (await (await call(`/projects/arc_file?id=${id}&path=notes.txt`)).json()) as {
			last_commit_id: string;
		};
		const committed = await call(`/projects/commitFile?id=${id}&repoPath=notes.txt&message=typo`, {
			method: "PUT",
			body: JSON.stringify({ content: "new <text>", last_commit_id: before.last_commit_id }),
		});
		expect(committed.status).toBe(200);
		expect(JSON.parse((await committed.json()) as string)).toEqual({
			file_path: "notes.txt",
			branch: "main",
		});
		expect(repos().file(id, "notes.txt")?.toString("utf8")).toBe("new <text>");
		const stale = await call(`/projects/commitFile?id=${id}&repoPath=notes.txt`, {
			method: "PUT",
			body: JSON.stringify({ content: "lost update", last_commit_id: before.last_commit_id }),
		});
		expect(stale.status).toBe(409);
		expect(repos().file(id, "notes.txt")?.toString("utf8")).toBe("new <text>");
		const serverPath = await call(
			`/projects/commitFile?id=${id}&repoPath=notes.txt&filePath=/etc/passwd`,
			{
				method: "PUT",
				body: JSON.stringify({ content: "x" }),
			},
		);
		expect(serverPath.status).toBe(422);
		expect(repos().file(id, "notes.txt")?.toString("utf8")).toBe("new <text>");
		const created = await call(`/projects/commitFile?id=${id}&repoPath=new/file.txt`, {
			method: "PUT",
			body: JSON.stringify({ content: "fresh" }),
		});
		expect(created.status).toBe(200);
		expect(repos().file(id, "new/file.txt")?.toString("utf8")).toBe("fresh");
	});

	it("creates, renames and deletes folders in one commit over every page, keeping .gitattributes in step", async () => {
		const files: Record<string, string> = {
			".gitattributes":
				"data/raw/big.bin filter=lfs diff=lfs merge=lfs -text\nother.bin filter=lfs diff=lfs merge=lfs -text",
		};
		for (let index = 0; index < 130; index += 1) files[`data/raw/f-${index}.txt`] = String(index);
		files["data/raw/big.bin"] = "pointer";
		const id = repos().addProject({ name: "Folder ARC", ownerId: ALICE.id, files });
		const created = await call("/fnf/createFolder", {
			method: "POST",
			body: JSON.stringify({ identifier: "new folder", id, path: "data", branch: "main" }),
		});
		expect(created.status).toBe(201);
		expect(repos().paths(id)).toContain("data/new_folder/.gitkeep");
		const renamed = await call(
			`/fnf/renameFolder?id=${id}&oldPath=data/raw&newPath=data/measured&branch=main`,
			{
				method: "PUT",
			},
		);
		expect(renamed.status).toBe(200);
		expect(await renamed.json()).toBe("Successfully renamed the folder!");
		expect(
			repos()
				.paths(id)
				.filter((path) => path.startsWith("data/measured/")),
		).toHaveLength(131);
		expect(
			repos()
				.paths(id)
				.some((path) => path.startsWith("data/raw/")),
		).toBe(false);
		expect(repos().file(id, ".gitattributes")?.toString("utf8")).toContain(
			"data/measured/big.bin filter=lfs",
		);
		const deletedFile = await call(
			`/fnf/deleteFile?id=${id}&path=data/measured/big.bin&branch=main`,
			{ method: "DELETE" },
		);
		expect(deletedFile.status).toBe(200);
		expect(repos().file(id, ".gitattributes")?.toString("utf8")).toBe(
			"other.bin filter=lfs diff=lfs merge=lfs -text",
		);
		const deleted = await call(`/fnf/deleteFolder?id=${id}&path=data/measured&branch=main`, {
			method: "DELETE",
		});
		expect(deleted.status).toBe(200);
		expect(await deleted.json()).toBe("Successfully deleted the folder!");
		expect(
			repos()
				.paths(id)
				.some((path) => path.startsWith("data/measured/")),
		).toBe(false);
		expect(
			(await call(`/fnf/deleteFolder?id=${id}&path=nowhere&branch=main`, { method: "DELETE" }))
				.status,
		).toBe(404);
		const traversal = await call(`/fnf/deleteFolder?id=${id}&path=data/../..&branch=main`, {
			method: "DELETE",
		});
		expect(traversal.status).toBe(422);
	});

	it("lists users and members, and adds, changes and removes a member", async () => {
		const id = repos().addProject({ name: "Team ARC", ownerId: ALICE.id });
		const everyone = (await (await call("/user/getUser")).json()) as {
			users: { username: string }[];
		};
		expect(everyone.users.map((user) => user.username).sort()).toEqual(["alice", "bob"]);
		const added = await call("/user/addUser", {
			method: "POST",
			body: JSON.stringify({ userId: BOB.id, username: BOB.username, id, role: 30 }),
		});
		expect(added.status).toBe(201);
		expect(await added.json()).toBe("The user bob was added successfully!");
		const members = (await (await call(`/user/getArcUser?id=${id}`)).json()) as {
			users: { id: number }[];
		};
		expect(members.users.map((user) => user.id).sort()).toEqual([BOB.id, ALICE.id].sort());
		const badRole = await call("/user/editUser", {
			method: "PUT",
			body: JSON.stringify({ userId: BOB.id, username: BOB.username, id, role: 35 }),
		});
		expect(badRole.status).toBe(422);
		const edited = await call("/user/editUser", {
			method: "PUT",
			body: JSON.stringify({ userId: BOB.id, username: BOB.username, id, role: 40 }),
		});
		expect(await edited.json()).toBe("The user bob was edited successfully!");
		const removed = await call(`/user/removeUser?id=${id}&userId=${BOB.id}&username=bob`, {
			method: "DELETE",
		});
		expect(await removed.json()).toBe("The user bob was removed successfully!");
		expect(await (await call("/user/getGroups")).json()).toEqual([{ name: "plant-lab", id: 9 }]);
	});

	it("shows an ISA file's metadata rows as pandas gave them, and a plain spreadsheet as split JSON", async () => {
		const id = repos().addProject({
			name: "ISA ARC",
			ownerId: ALICE.id,
			files: {
				"isa.investigation.xlsx": await investigation(),
				"data/plate.xlsx": await plainSheet(),
			},
		});
		const rows = await (
			await call(`/projects/arc_file?id=${id}&path=isa.investigation.xlsx`)
		).json();
		expect(rows).toEqual([
			["Term Source Name", "OBI", null],
			["INVESTIGATION", null, null],
			["Investigation Identifier", "old_id", null],
			["Investigation Title", "Old title", null],
			["Investigation Description", "to be cleared", "second"],
		]);
		const plate = await (await call(`/projects/arc_file?id=${id}&path=data/plate.xlsx`)).json();
		expect(plate).toEqual({
			columns: ["Well", "OD600"],
			index: [0, 1],
			data: [
				["A1", 0.25],
				["A2", null],
			],
		});
	});

	it("saves ISA metadata rows (a cell can be cleared; input escaped) and refuses, 409, to overwrite an edit made meanwhile", async () => {
		const id = repos().addProject({
			name: "Edit ARC",
			ownerId: ALICE.id,
			files: { "isa.investigation.xlsx": await investigation() },
		});
		const save = (body: unknown) =>
			call("/projects/saveFile", { method: "PUT", body: JSON.stringify(body) });
		const single = await save({
			isaInput: ["Investigation Identifier", "new_id"],
			isaPath: "isa.investigation.xlsx",
			isaRepo: id,
			arcBranch: "main",
		});
		expect(single.status).toBe(200);
		const several = await save({
			isaInput: [
				["Investigation Title", "A <b>bold</b> title"],
				["Investigation Description", "", null],
			],
			isaPath: "isa.investigation.xlsx",
			isaRepo: id,
			arcBranch: "main",
			multiple: true,
		});
		expect(several.status).toBe(200);
		const cells = (
			await readXlsx(repos().file(id, "isa.investigation.xlsx") ?? Buffer.alloc(0))
		).get("isa_investigation");
		expect(cells?.get("B4")).toBe("new_id");
		expect(cells?.get("B5")).toBe("A &lt;b&gt;bold&lt;/b&gt; title");
		expect(cells?.get("B6")).toBeUndefined();
		expect(cells?.get("C6")).toBe("second");
		const unknownRow = await save({
			isaInput: ["No Such Row", "x"],
			isaPath: "isa.investigation.xlsx",
			isaRepo: id,
			arcBranch: "main",
		});
		expect(unknownRow.status).toBe(400);

		const theirs = Buffer.from(await investigation("their_id"));
		repos().beforeNextFileWrite = () =>
			repos().commitAsSomeoneElse(id, "isa.investigation.xlsx", theirs);
		const raced = await save({
			isaInput: ["Investigation Identifier", "mine"],
			isaPath: "isa.investigation.xlsx",
			isaRepo: id,
			arcBranch: "main",
		});
		expect(raced.status).toBe(409);
		expect(repos().file(id, "isa.investigation.xlsx")?.equals(theirs)).toBe(true);
	});

	it("shows the hub's active banner, or null", async () => {
		expect(await (await call("/projects/getBanner")).json()).toBeNull();
		repos().broadcastMessages = [
			{ id: 1, message: "old", active: false },
			{ id: 2, message: "Maintenance tonight", active: true, broadcast_type: "banner" },
		];
		expect(await (await call("/projects/getBanner")).json()).toMatchObject({
			id: 2,
			message: "Maintenance tonight",
		});
	});
});
