/**
 * ARCmanager's publishArc (specs/arcmanager.md §6.11) against the fake GitLab and a fake InvenioRDM
 * (test/support/fake-invenio.ts), sent as the frontend sends it: the ARC's archive lands in the record's
 * draft as `<arcName>.zip` and is committed; an Invenio outside arcs.invenio_origins is 403 before
 * anything is sent (no SSRF); a refused token is 403, an unknown record 502 with Invenio's message, an
 * Invenio that does not answer 504; no login is 401; the token never reaches Tollgate's log.
 */
import JSZip from "jszip";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import {
	ALICE,
	BOB,
	type ConnectStack,
	freePort,
	loginOverHttp,
	PREFIX,
	repositoriesOf,
	startConnectStack,
} from "../support/connect.ts";
import type { CookieJar } from "../support/cookie-jar.ts";
import { FakeInvenio } from "../support/fake-invenio.ts";

const PUBLISHED = "Your ARC was uploaded successfully!";

/** The `{detail, error}` body the frontend shows on a failure. */
const failureOf = async (answer: Response) =>
	z.object({ detail: z.string(), error: z.string() }).parse(await answer.json());

describe("arcs publishArc", () => {
	let stack: ConnectStack;
	let invenio: FakeInvenio;
	/** An origin in arcs.invenio_origins where nothing listens. */
	let silentOrigin: string;
	let alice: CookieJar;

	beforeAll(async () => {
		invenio = await FakeInvenio.start();
		silentOrigin = `http://127.0.0.1:${await freePort()}`;
		stack = await startConnectStack({
			repositories: true,
			overrides: { arcs: { enabled: true, invenio_origins: [invenio.origin, silentOrigin] } },
		});
		alice = (await loginOverHttp(stack.base, stack.fake, ALICE.username)).jar;
	});
	afterAll(async () => {
		await stack?.close();
		await invenio?.close();
	});

	const repos = () => repositoriesOf(stack.fake);
	const publish = (jar: CookieJar | null, body: Record<string, string>) =>
		fetch(`${stack.base}${PREFIX}/projects/publishArc`, {
			method: "POST",
			headers: {
				"content-type": "application/json",
				...(jar === null ? {} : { cookie: jar.header(PREFIX) }),
			},
			body: JSON.stringify(body),
		});
	const archiveRequests = () =>
		stack.fake.apiRequests.filter((request) => request.url.includes("/repository/archive"));
	/** An ARC of Alice's with a few files; its namespace path. */
	const aliceArc = (name: string) => {
		const files = {
			"isa.investigation.xlsx": Buffer.from([0x50, 0x4b, 0x03, 0x04, 1, 2, 3]),
			"README.md": `# ${name}\n`,
			"assays/growth/isa.assay.xlsx": "assay",
			"assays/growth/dataset/plate.csv": "well,od\nA1,0.25\n",
			"studies/field/protocols/.gitkeep": "",
		};
		const id = repos().addProject({ name, ownerId: ALICE.id, files });
		const project = repos().projects.get(id);
		return { id, files, namespace: `${project?.namespace}/${project?.path}` };
	};

	it("streams the ARC's archive into the Invenio draft as <arcName>.zip and commits it", async () => {
		const arc = aliceArc("Publish ARC");
		const token = invenio.addToken();
		const record = invenio.addDraft(token);
		const answer = await publish(alice, {
			arcName: "Publish ARC",
			namespace: arc.namespace,
			invenioPAT: token,
			invenioURL: `${invenio.origin}/uploads/${record}`,
		});
		expect(answer.status).toBe(200);
		expect(await answer.json()).toBe(PUBLISHED);
		const stored = invenio.files(record).get("Publish ARC.zip");
		expect(stored?.status).toBe("completed");
		const zip = await JSZip.loadAsync(stored?.content ?? Buffer.alloc(0));
		const entries = Object.values(zip.files).filter((entry) => !entry.dir);
		const folders = new Set(entries.map((entry) => entry.name.split("/")[0]));
		expect(folders.size).toBe(1);
		const [folder] = [...folders];
		expect(folder).toMatch(/^publish-arc-main-[0-9a-f]{40}$/);
		const paths = entries.map((entry) => entry.name.slice(`${folder}/`.length)).sort();
		expect(paths).toEqual(Object.keys(arc.files).sort());
		expect(await zip.file(`${folder}/assays/growth/dataset/plate.csv`)?.async("string")).toBe(
			"well,od\nA1,0.25\n",
		);
		const calls = invenio.requests.filter((request) => request.url.includes(record));
		expect(calls.map((request) => `${request.method} ${request.url}`)).toEqual([
			`POST /api/records/${record}/draft/files`,
			`PUT /api/records/${record}/draft/files/Publish%20ARC.zip/content`,
			`POST /api/records/${record}/draft/files/Publish%20ARC.zip/commit`,
		]);
		expect(calls.every((request) => request.authorization === `Bearer ${token}`)).toBe(true);
		expect(calls[1]?.contentType).toBe("application/octet-stream");
		// The hub sent the archive without a length: it went on as it came, never held whole first.
		expect(calls[1]?.transferEncoding).toBe("chunked");
		expect(archiveRequests().at(-1)?.url).toBe(
			`/api/v4/projects/${encodeURIComponent(arc.namespace)}/repository/archive.zip`,
		);
	});

	it("takes the record's /records/<id> address too, and keeps the arc name from naming a path", async () => {
		const arc = aliceArc("Sly ARC");
		const token = invenio.addToken();
		const record = invenio.addDraft(token);
		const answer = await publish(alice, {
			arcName: "../../etc/Evil ARC",
			namespace: arc.namespace,
			invenioPAT: token,
			invenioURL: `${invenio.origin}/records/${record}`,
		});
		expect(answer.status).toBe(200);
		expect([...invenio.files(record).keys()]).toEqual(["____etc_Evil ARC.zip"]);
	});

	it("refuses an Invenio whose origin is not in arcs.invenio_origins with 403, sending nothing anywhere", async () => {
		const arc = aliceArc("Guarded ARC");
		const token = invenio.addToken();
		const before = { invenio: invenio.requests.length, archives: archiveRequests().length };
		for (const invenioURL of [
			"https://zenodo.org/uploads/1234567",
			"http://169.254.169.254/records/latest",
			`${invenio.origin.replace("127.0.0.1", "localhost")}/uploads/abcde-12345`,
		]) {
			const answer = await publish(alice, {
				arcName: "Guarded ARC",
				namespace: arc.namespace,
				invenioPAT: token,
				invenioURL,
			});
			expect(answer.status, invenioURL).toBe(403);
			expect((await failureOf(answer)).detail).toContain("arcs.invenio_origins");
		}
		expect(invenio.requests.length).toBe(before.invenio);
		expect(archiveRequests().length).toBe(before.archives);
	});

	it("answers 403 when Invenio refuses the token, unknown or another user's, and keeps no file", async () => {
		const arc = aliceArc("Refused ARC");
		const owner = invenio.addToken();
		const record = invenio.addDraft(owner);
		for (const invenioPAT of ["not-a-real-token", invenio.addToken()]) {
			const answer = await publish(alice, {
				arcName: "Refused ARC",
				namespace: arc.namespace,
				invenioPAT,
				invenioURL: `${invenio.origin}/uploads/${record}`,
			});
			expect(answer.status).toBe(403);
			expect((await failureOf(answer)).detail).toBe("Invenio refused the token");
		}
		expect(invenio.files(record).size).toBe(0);
	});

	it("answers 502 with Invenio's message for a record it does not know", async () => {
		const arc = aliceArc("Lost ARC");
		const answer = await publish(alice, {
			arcName: "Lost ARC",
			namespace: arc.namespace,
			invenioPAT: invenio.addToken(),
			invenioURL: `${invenio.origin}/uploads/nosuch-record`,
		});
		expect(answer.status).toBe(502);
		const body = await failureOf(answer);
		expect(body.error).toBe("upstream_error");
		expect(body.detail).toContain("The persistent identifier does not exist.");
	});

	it("answers 504 when the Invenio does not answer", async () => {
		const arc = aliceArc("Stranded ARC");
		const answer = await publish(alice, {
			arcName: "Stranded ARC",
			namespace: arc.namespace,
			invenioPAT: invenio.addToken(),
			invenioURL: `${silentOrigin}/uploads/abcde-12345`,
		});
		expect(answer.status).toBe(504);
		const body = await failureOf(answer);
		expect(body.error).toBe("upstream_unavailable");
		expect(body.detail).toContain("Invenio");
	});

	it("answers 404 for an ARC the user cannot see, before Invenio is asked", async () => {
		const hidden = repos().addProject({
			name: "Bob secret ARC",
			ownerId: BOB.id,
			files: { a: "b" },
		});
		const project = repos().projects.get(hidden);
		const token = invenio.addToken();
		const record = invenio.addDraft(token);
		const answer = await publish(alice, {
			arcName: "Bob secret ARC",
			namespace: `${project?.namespace}/${project?.path}`,
			invenioPAT: token,
			invenioURL: `${invenio.origin}/uploads/${record}`,
		});
		expect(answer.status).toBe(404);
		expect(invenio.requests.some((request) => request.url.includes(record))).toBe(false);
	});

	it("answers 401 without a login and sends nothing", async () => {
		const arc = aliceArc("Anonymous ARC");
		const token = invenio.addToken();
		const record = invenio.addDraft(token);
		const answer = await publish(null, {
			arcName: "Anonymous ARC",
			namespace: arc.namespace,
			invenioPAT: token,
			invenioURL: `${invenio.origin}/uploads/${record}`,
		});
		expect(answer.status).toBe(401);
		expect(invenio.requests.some((request) => request.url.includes(record))).toBe(false);
	});

	it("keeps the Invenio token out of Tollgate's log lines, published or refused", async () => {
		const arc = aliceArc("Quiet ARC");
		const token = invenio.addToken();
		const record = invenio.addDraft(token);
		const target = { arcName: "Quiet ARC", namespace: arc.namespace, invenioPAT: token };
		const published = await publish(alice, {
			...target,
			invenioURL: `${invenio.origin}/uploads/${record}`,
		});
		expect(published.status).toBe(200);
		const refused = await publish(alice, {
			...target,
			invenioURL: `${invenio.origin}/uploads/${record}`,
		});
		expect(refused.status).toBe(502);
		const unreachable = await publish(alice, {
			...target,
			invenioURL: `${silentOrigin}/uploads/${record}`,
		});
		expect(unreachable.status).toBe(504);
		const lines = stack.testApp.logs();
		expect(lines.some((line) => line.msg === "arcs: ARC published to Invenio")).toBe(true);
		expect(lines.some((line) => line.msg === "request failed")).toBe(true);
		expect(JSON.stringify(lines)).not.toContain(token);
	});
});
