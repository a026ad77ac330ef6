/**
 * ARCmanager's chunked uploads (/fnf/uploadFile) against the fake GitLab, sent as the frontend sends them
 * (multipart, the file part first, 202 per chunk): a missing chunk is 409 with `missing-package` and goes
 * through once re-sent; two uploads of one file name to different paths, and one user's chunks and
 * another's, never mix (the original keyed chunks by project and name only); Git LFS through the batch API
 * with the pointer and `.gitattributes` committed, an object the hub lost sent again; 300 MiB in 100 MiB
 * chunks with one lost; chunks of unfinished uploads purged by the leased job.
 * @see issue 17
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
	ALICE,
	BOB,
	type ConnectStack,
	loginOverHttp,
	PREFIX,
	repositoriesOf,
	startConnectStack,
} from "../support/connect.ts";
import type { CookieJar } from "../support/cookie-jar.ts";

const MIB = 1024 * 1024;

interface ChunkFields {
	readonly bytes: Uint8Array;
	readonly name: string;
	readonly id: number;
	readonly path: string;
	readonly chunkNumber: number;
	readonly totalChunks: number;
	readonly lfs?: boolean;
	readonly namespace?: string;
}

/** The frontend's FormData, in its order: the file first. */
function chunkForm(fields: ChunkFields): FormData {
	const form = new FormData();
	form.append("file", new Blob([fields.bytes]), "blob");
	form.append("chunkNumber", String(fields.chunkNumber));
	form.append("totalChunks", String(fields.totalChunks));
	form.append("name", fields.name);
	form.append("id", String(fields.id));
	form.append("branch", "main");
	form.append("path", fields.path);
	form.append("namespace", fields.namespace ?? "alice/whatever");
	form.append("lfs", String(fields.lfs ?? false));
	return form;
}

function pieces(bytes: Buffer, size: number): Buffer[] {
	const list: Buffer[] = [];
	for (let start = 0; start < bytes.length; start += size)
		list.push(bytes.subarray(start, start + size));
	return list;
}

describe("arcs uploads", () => {
	let stack: ConnectStack;
	let alice: CookieJar;
	let bob: CookieJar;

	beforeAll(async () => {
		stack = await startConnectStack({
			repositories: true,
			overrides: { arcs: { enabled: true, upload_retry_pause_ms: 0 } },
		});
		alice = (await loginOverHttp(stack.base, stack.fake, ALICE.username)).jar;
		bob = (await loginOverHttp(stack.base, stack.fake, BOB.username)).jar;
	});
	afterAll(async () => {
		await stack?.close();
	});

	const repos = () => repositoriesOf(stack.fake);
	const send = (jar: CookieJar | null, fields: ChunkFields) =>
		fetch(`${stack.base}${PREFIX}/fnf/uploadFile`, {
			method: "POST",
			body: chunkForm(fields),
			headers: jar === null ? {} : { cookie: jar.header(PREFIX) },
		});
	const metric = async (name: string) => {
		const text = (await stack.testApp.app.inject({ url: "/metrics" })).body;
		return text
			.split("\n")
			.filter((line) => line.startsWith(name))
			.reduce((sum, line) => sum + Number(line.split(" ").at(-1)), 0);
	};
	const runPurge = async () => {
		const job = stack.testApp.jobs.find(
			(candidate) => candidate.name === "arcs.purge_upload_chunks",
		);
		if (job === undefined) throw new Error("no arcs.purge_upload_chunks job");
		await job.run({ signal: new AbortController().signal, nowMs: stack.testApp.clock.nowMs() });
	};
	const storedBlobs = async () => {
		let count = 0;
		for await (const blob of stack.testApp.storage.blobs.list())
			if (blob.key.startsWith("arcs-upload-")) count += 1;
		return count;
	};

	it("takes chunks with 202, commits the file on the last (201 new, 200 replaced) and keeps no chunk", async () => {
		const id = repos().addProject({ name: "Upload ARC", ownerId: ALICE.id });
		const content = Buffer.from("sample,value\n".repeat(3_000));
		const parts = pieces(content, 16_000);
		for (const [index, bytes] of parts.entries()) {
			const answer = await send(alice, {
				bytes,
				name: "data.csv",
				id,
				path: "assays/a1/dataset/data.csv",
				chunkNumber: index,
				totalChunks: parts.length,
			});
			const isLast = index === parts.length - 1;
			expect(answer.status).toBe(isLast ? 201 : 202);
			expect(await answer.json()).toBe(
				isLast
					? "Uploaded new File data.csv"
					: `Received chunk ${index + 1} of ${parts.length} for file data.csv`,
			);
		}
		expect(repos().file(id, "assays/a1/dataset/data.csv")?.equals(content)).toBe(true);
		const replaced = await send(alice, {
			bytes: Buffer.from("new"),
			name: "data.csv",
			id,
			path: "assays/a1/dataset/data.csv",
			chunkNumber: 0,
			totalChunks: 1,
		});
		expect(replaced.status).toBe(200);
		expect(repos().file(id, "assays/a1/dataset/data.csv")?.toString()).toBe("new");
		expect(await storedBlobs()).toBe(0);
	});

	it("answers a missing chunk 409 with its index in missing-package, and finishes once it is re-sent", async () => {
		const id = repos().addProject({ name: "Gap ARC", ownerId: ALICE.id });
		const parts = pieces(Buffer.from("0123456789".repeat(300)), 1_000);
		const fields = (index: number) => ({
			bytes: parts[index] ?? Buffer.alloc(0),
			name: "gap.txt",
			id,
			path: "gap.txt",
			chunkNumber: index,
			totalChunks: 3,
		});
		expect((await send(alice, fields(0))).status).toBe(202);
		const missing = await send(alice, fields(2));
		expect(missing.status).toBe(409);
		expect(missing.headers.get("missing-package")).toBe("1");
		expect(((await missing.json()) as { detail: string }).detail).toMatch(/Chunk 1/);
		expect((await send(alice, fields(1))).status).toBe(202);
		expect((await send(alice, fields(2))).status).toBe(201);
		expect(repos().file(id, "gap.txt")?.toString()).toBe("0123456789".repeat(300));
	});

	it("keeps one file name's uploads to two paths, and two users' chunks, apart", async () => {
		const id = repos().addProject({ name: "Shared ARC", ownerId: ALICE.id });
		repos().projects.get(id)?.members.set(BOB.id, 30);
		const upload = (jar: CookieJar, path: string, text: string, index: number) =>
			send(jar, {
				bytes: Buffer.from(text),
				name: "notes.txt",
				id,
				path,
				chunkNumber: index,
				totalChunks: 2,
			});
		expect((await upload(alice, "a/notes.txt", "alice-a-0|", 0)).status).toBe(202);
		expect((await upload(alice, "b/notes.txt", "alice-b-0|", 0)).status).toBe(202);
		expect((await upload(bob, "a/notes.txt", "bob-a-0|", 0)).status).toBe(202);
		expect((await upload(alice, "b/notes.txt", "alice-b-1", 1)).status).toBe(201);
		expect((await upload(alice, "a/notes.txt", "alice-a-1", 1)).status).toBe(201);
		expect(repos().file(id, "a/notes.txt")?.toString()).toBe("alice-a-0|alice-a-1");
		expect(repos().file(id, "b/notes.txt")?.toString()).toBe("alice-b-0|alice-b-1");
		expect((await upload(bob, "a/notes.txt", "bob-a-1", 1)).status).toBe(200);
		expect(repos().file(id, "a/notes.txt")?.toString()).toBe("bob-a-0|bob-a-1");
	});

	it("sends an LFS upload through the batch API, commits the pointer and the .gitattributes line, and re-sends an object the hub lost", async () => {
		const id = repos().addProject({
			name: "LFS ARC",
			ownerId: ALICE.id,
			files: { ".gitattributes": "*.raw binary\n" },
		});
		const content = Buffer.alloc(200_000, 7);
		const oid = createHash("sha256").update(content).digest("hex");
		const parts = pieces(content, 80_000);
		const retriesBefore = await metric("tollgate_arcs_upload_retries_total");
		repos().dropNextLfsObject = true;
		const uploadsBefore = repos().lfsUploads;
		let last: Response | undefined;
		for (const [index, bytes] of parts.entries())
			last = await send(alice, {
				bytes,
				name: "scan.raw",
				id,
				path: "assays/a1/dataset/scan.raw",
				chunkNumber: index,
				totalChunks: parts.length,
				lfs: true,
				namespace: "someone-else/not-this-one",
			});
		expect(last?.status).toBe(201);
		expect(await last?.json()).toBe("File scan.raw was uploaded successfully!");
		expect(repos().lfsObject(id, oid)).toBe(content.length);
		expect(repos().lfsUploads - uploadsBefore).toBe(2);
		expect(await metric("tollgate_arcs_upload_retries_total")).toBe(retriesBefore + 1);
		expect(repos().file(id, "assays/a1/dataset/scan.raw")?.toString()).toBe(
			`version https://git-lfs.github.com/spec/v1\noid sha256:${oid}\nsize ${content.length}\n`,
		);
		expect(repos().file(id, ".gitattributes")?.toString()).toBe(
			"*.raw binary\nassays/a1/dataset/scan.raw filter=lfs diff=lfs merge=lfs -text",
		);
		const again = await send(alice, {
			bytes: content,
			name: "scan.raw",
			id,
			path: "assays/a1/dataset/scan.raw",
			chunkNumber: 0,
			totalChunks: 1,
			lfs: true,
		});
		expect(await again.json()).toBe("File scan.raw was updated");
		expect(repos().lfsUploads - uploadsBefore).toBe(2);
	});

	it("refuses without a login (401), names a bad field (422), and refuses a user without access (404)", async () => {
		const id = repos().addProject({ name: "Private ARC", ownerId: ALICE.id });
		const fields = {
			bytes: Buffer.from("x"),
			name: "x.txt",
			id,
			path: "x.txt",
			chunkNumber: 0,
			totalChunks: 1,
		};
		expect((await send(null, fields)).status).toBe(401);
		const bad = await send(alice, { ...fields, path: "../etc/passwd" });
		expect(bad.status).toBe(422);
		expect(((await bad.json()) as { detail: string }).detail).toMatch(/path/);
		const beyond = await send(alice, { ...fields, chunkNumber: 3 });
		expect(beyond.status).toBe(422);
		expect(((await beyond.json()) as { detail: string }).detail).toMatch(/chunkNumber/);
		expect((await send(bob, fields)).status).toBe(404);
		expect(repos().paths(id)).toEqual([]);
		expect(await storedBlobs()).toBe(0);
	});

	it("purges the chunks of an upload that never finished, once they are older than the TTL", async () => {
		const id = repos().addProject({ name: "Abandoned ARC", ownerId: ALICE.id });
		expect(
			(
				await send(alice, {
					bytes: Buffer.from("half"),
					name: "half.txt",
					id,
					path: "half.txt",
					chunkNumber: 0,
					totalChunks: 2,
				})
			).status,
		).toBe(202);
		expect(await storedBlobs()).toBe(1);
		await runPurge();
		expect(await storedBlobs()).toBe(1);
		stack.testApp.clock.advanceMs(25 * 60 * 60 * 1_000);
		await runPurge();
		expect(await storedBlobs()).toBe(0);
	});

	it("uploads 300 MiB to LFS in 100 MiB chunks with one lost and re-sent", async () => {
		const id = repos().addProject({ name: "Large ARC", ownerId: ALICE.id });
		const chunk = (index: number) => Buffer.alloc(100 * MIB, index + 1);
		const hash = createHash("sha256");
		for (let index = 0; index < 3; index += 1) hash.update(chunk(index));
		const oid = hash.digest("hex");
		const fields = (index: number) => ({
			bytes: chunk(index),
			name: "reads.bam",
			id,
			path: "assays/seq/dataset/reads.bam",
			chunkNumber: index,
			totalChunks: 3,
			lfs: true,
		});
		expect((await send(alice, fields(0))).status).toBe(202);
		const lost = await send(alice, fields(2));
		expect(lost.status).toBe(409);
		expect(lost.headers.get("missing-package")).toBe("1");
		expect((await send(alice, fields(1))).status).toBe(202);
		const done = await send(alice, fields(2));
		expect(done.status).toBe(201);
		expect(repos().lfsObject(id, oid)).toBe(300 * MIB);
		expect(await storedBlobs()).toBe(0);
		// Moving 300 MiB three times (in, hashed, out) on a busy machine: a bound, not a margin.
	}, 600_000);
});
