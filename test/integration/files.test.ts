/**
 * The Session File Server routes as clients use them, on the filesystem and in-database blob stores,
 * directly and through onion requests. File ids are checked against libsodium's BLAKE2b.
 */
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { fileIdOf } from "../../src/modules/files/file-id.ts";
import {
	appBackends,
	buildTestApp,
	buildTestAppOn,
	type TestApp,
} from "../support/build-test-app.ts";
import {
	createTestPostgresDatabase,
	postgresAdminUrl,
	type TestPostgresDatabase,
} from "../support/engines.ts";
import { buildOnionRequest, serverOnionKey, v4Plaintext } from "../support/onion-client.ts";
import { statusOfPartialPost } from "../support/partial-post.ts";

const idVectors = JSON.parse(
	readFileSync(new URL("../vectors/files.json", import.meta.url), "utf8"),
) as {
	ids: { input: string; input_hex: string; id: string }[];
};

describe("file ids", () => {
	it.each(idVectors.ids)(
		"of $input equal Python hashlib's BLAKE2b (digest 33, salt SessionFileSvr\\0\\0)",
		(vector) => {
			expect(fileIdOf(Buffer.from(vector.input_hex, "hex"))).toBe(vector.id);
		},
	);
});

const adminUrl = postgresAdminUrl();
/**
 * Small files keep their bytes in their record by default; with `inline_max_bytes = 0` every file goes
 * through the blob store, so both paths run on both blob backends. The PostgreSQL runs are outside dev
 * mode, as production runs: their service key is made on first start.
 */
const backends = [
	{
		name: "SQLite, small files inline",
		skip: false,
		usePostgres: false,
		blobs: "filesystem",
		isDev: true,
		inlineMaxBytes: 65_536,
	},
	{
		name: "filesystem blobs, SQLite",
		skip: false,
		usePostgres: false,
		blobs: "filesystem",
		isDev: true,
		inlineMaxBytes: 0,
	},
	{
		name: "PostgreSQL, small files inline, not in dev mode",
		skip: adminUrl === null,
		usePostgres: true,
		blobs: "database",
		isDev: false,
		inlineMaxBytes: 65_536,
	},
	{
		name: "database blobs, PostgreSQL, not in dev mode",
		skip: adminUrl === null,
		usePostgres: true,
		blobs: "database",
		isDev: false,
		inlineMaxBytes: 0,
	},
] as const;

for (const backend of backends) {
	describe.skipIf(backend.skip)(`files (${backend.name})`, () => {
		let testApp: TestApp;
		let database: TestPostgresDatabase | undefined;
		let listeningPort: number | undefined;
		const MAX = 300_000;
		const REQUEST_TIMEOUT_MS = 1_000;

		beforeAll(async () => {
			database = backend.usePostgres ? await createTestPostgresDatabase(adminUrl ?? "") : undefined;
			testApp = await buildTestApp({
				dev: backend.isDev,
				http: { request_timeout_ms: REQUEST_TIMEOUT_MS },
				blobs: { backend: backend.blobs },
				files: {
					max_file_size_bytes: MAX,
					max_ttl_seconds: 86_400,
					inline_max_bytes: backend.inlineMaxBytes,
				},
				...(database === undefined ? {} : { database: { url: database.url } }),
			});
		});
		afterAll(async () => {
			await testApp.close();
			await database?.drop();
		});

		/** Blobs in the store, whichever backend: files on disk or rows in the database. */
		async function blobCount(): Promise<number> {
			if (backend.blobs === "database") {
				return (await testApp.storage.sql.db.selectFrom("blobs").select("blob_key").execute())
					.length;
			}
			const root = join(testApp.config.data_dir, "blobs");
			const shards = (await readdir(root).catch(() => [])).filter((name) => name !== ".incoming");
			let count = 0;
			for (const shard of shards) count += (await readdir(join(root, shard))).length;
			return count;
		}

		/** Copies of file bytes kept: blobs in the store, and records holding their bytes inline. */
		async function storedCopies(): Promise<number> {
			const inline = await testApp.storage.sql.db
				.withTables<{ files: { id: string; inline_data: Uint8Array | null } }>()
				.selectFrom("files")
				.select("id")
				.where("inline_data", "is not", null)
				.execute();
			return (await blobCount()) + inline.length;
		}

		/** Write-ahead files a blob write has not yet renamed into place (filesystem backend). */
		async function incomingCount(): Promise<number> {
			const incoming = join(testApp.config.data_dir, "blobs", ".incoming");
			return (await readdir(incoming).catch(() => [])).length;
		}

		async function fileRecordCount(): Promise<number> {
			return (
				await testApp.storage.sql.db
					.withTables<{ files: { id: string } }>()
					.selectFrom("files")
					.select("id")
					.execute()
			).length;
		}

		/** The app on a loopback port, for tests that need real sockets; listens once per suite. */
		async function portOf(): Promise<number> {
			listeningPort ??= Number(
				new URL(await testApp.app.listen({ host: "127.0.0.1", port: 0 })).port,
			);
			return listeningPort;
		}

		const upload = (payload: Buffer, headers: Record<string, string> = {}) =>
			testApp.app.inject({ method: "POST", url: "/file", headers, payload });

		it("stores an upload under its content id and serves it back with Expires", async () => {
			const data = randomBytes(200_000);
			const response = await upload(data, {
				"content-type": "application/octet-stream",
				"content-disposition": "attachment",
			});
			expect(response.statusCode).toBe(200);
			expect(response.headers["content-type"]).toBe("application/json");
			const { id, expires } = response.json();
			expect(id).toBe(fileIdOf(data));
			expect(expires).toBeCloseTo(testApp.clock.nowMs() / 1_000 + 1_814_400, 3);

			const download = await testApp.app.inject({ method: "GET", url: `/file/${id}` });
			expect(download.statusCode).toBe(200);
			expect(download.headers["content-type"]).toBe("application/octet-stream");
			expect(Buffer.compare(download.rawPayload, data)).toBe(0);
			expect(Date.parse(String(download.headers.expires))).toBe(Math.floor(expires) * 1_000);

			const info = await testApp.app.inject({ method: "GET", url: `/file/${id}/info` });
			expect(info.json()).toEqual({
				size: data.length,
				uploaded: testApp.clock.nowMs() / 1_000,
				expires,
			});
		});

		it("accepts an upload without a content type, as desktop sends it", async () => {
			const response = await testApp.app.inject({
				method: "POST",
				url: "/file",
				payload: Buffer.from("no content type"),
			});
			expect(response.statusCode).toBe(200);
		});

		it("recognises a re-upload: same id, one stored copy, expiry never shortened", async () => {
			const data = randomBytes(1_000);
			const before = await storedCopies();
			const first = (await upload(data, { "x-fs-ttl": "80000" })).json();
			const second = (await upload(data, { "x-fs-ttl": "60" })).json();
			expect(second.id).toBe(first.id);
			expect(second.expires).toBe(first.expires);
			expect(await storedCopies()).toBe(before + 1);
		});

		it("refuses empty and oversized uploads with 413, and a bad X-FS-TTL with 400", async () => {
			expect((await upload(Buffer.alloc(0))).statusCode).toBe(413);
			const oversized = await upload(randomBytes(MAX + 1));
			expect(oversized.statusCode).toBe(413);
			expect(oversized.json()).toEqual({ status_code: 413 });
			for (const ttl of ["soon", "-5", "86401", "1.5"]) {
				const response = await upload(Buffer.from("x"), { "x-fs-ttl": ttl });
				expect(response.statusCode, ttl).toBe(400);
				expect(response.json()).toEqual({ status_code: 400 });
			}
		});

		it("X-FS-TTL: 0 expires the file at once: 404 on get, info and extend before any sweep", async () => {
			const { id } = (await upload(randomBytes(64), { "x-fs-ttl": "0" })).json();
			for (const url of [`/file/${id}`, `/file/${id}/info`]) {
				const response = await testApp.app.inject({ method: "GET", url });
				expect(response.statusCode).toBe(404);
				expect(response.json()).toEqual({ status_code: 404 });
			}
			expect(
				(await testApp.app.inject({ method: "POST", url: `/file/${id}/extend` })).statusCode,
			).toBe(404);
		});

		it("extends only forward and only content ids", async () => {
			const { id, expires } = (await upload(randomBytes(64), { "x-fs-ttl": "100" })).json();
			const extended = await testApp.app.inject({
				method: "POST",
				url: `/file/${id}/extend`,
				headers: { "x-fs-ttl": "5000" },
			});
			expect(extended.json().expires).toBe(expires + 4_900);
			const shorter = await testApp.app.inject({
				method: "POST",
				url: `/file/${id}/extend`,
				headers: { "x-fs-ttl": "10" },
			});
			expect(shorter.json().expires).toBe(expires + 4_900);
			expect(
				(await testApp.app.inject({ method: "POST", url: "/file/12345/extend" })).statusCode,
			).toBe(404);
		});

		it("answers 404 for unknown and malformed ids, path traversal included", async () => {
			for (const id of ["AAAA", "..%2F..%2Fetc%2Fpasswd", "a.b", "x".repeat(45)]) {
				expect(
					(await testApp.app.inject({ method: "GET", url: `/file/${id}` })).statusCode,
					id,
				).toBe(404);
			}
		});

		it("the sweeper deletes expired files, record and bytes", async () => {
			const { id } = (await upload(randomBytes(64), { "x-fs-ttl": "1" })).json();
			const before = await storedCopies();
			testApp.clock.advanceMs(2_000);
			const sweeper = testApp.jobs.find((job) => job.name === "files.sweep-expired");
			await sweeper?.run({ signal: new AbortController().signal, nowMs: testApp.clock.nowMs() });
			expect(await storedCopies()).toBeLessThan(before);
			const rows = await testApp.storage.sql.db
				.withTables<{ files: { id: string } }>()
				.selectFrom("files")
				.select("id")
				.where("id", "=", id)
				.execute();
			expect(rows).toEqual([]);
		});

		it("serves byte ranges (206) and refuses unsatisfiable ones (416)", async () => {
			const data = randomBytes(10_000);
			const { id } = (await upload(data)).json();
			const partial = await testApp.app.inject({
				method: "GET",
				url: `/file/${id}`,
				headers: { range: "bytes=100-199" },
			});
			expect(partial.statusCode).toBe(206);
			expect(partial.headers["content-range"]).toBe("bytes 100-199/10000");
			expect(Buffer.compare(partial.rawPayload, data.subarray(100, 200))).toBe(0);
			const suffix = await testApp.app.inject({
				method: "GET",
				url: `/file/${id}`,
				headers: { range: "bytes=-10" },
			});
			expect(Buffer.compare(suffix.rawPayload, data.subarray(-10))).toBe(0);
			const beyond = await testApp.app.inject({
				method: "GET",
				url: `/file/${id}`,
				headers: { range: "bytes=20000-" },
			});
			expect(beyond.statusCode).toBe(416);
			expect(beyond.headers["content-range"]).toBe("bytes */10000");
		});

		it("keeps the legacy base64 routes: POST /files and GET /files/<id>", async () => {
			const data = randomBytes(3_000);
			const posted = await testApp.app.inject({
				method: "POST",
				url: "/files",
				payload: { file: data.toString("base64") },
			});
			expect(posted.statusCode).toBe(200);
			expect(posted.json()).toEqual({ result: fileIdOf(data), status_code: 200 });
			const fetched = await testApp.app.inject({ method: "GET", url: `/files/${fileIdOf(data)}` });
			expect(fetched.json()).toEqual({ status_code: 200, result: data.toString("base64") });
			expect(
				(await testApp.app.inject({ method: "POST", url: "/files", payload: { nofile: 1 } }))
					.statusCode,
			).toBe(400);
			expect(
				(await testApp.app.inject({ method: "POST", url: "/files", payload: { file: "***" } }))
					.statusCode,
			).toBe(400);
			expect(
				(await testApp.app.inject({ method: "POST", url: "/files", payload: { file: "" } }))
					.statusCode,
			).toBe(413);
			expect((await testApp.app.inject({ method: "GET", url: "/files/unknownid" })).json()).toEqual(
				{ status_code: 404 },
			);
		});

		it("reports stored files, bytes and traffic in /metrics", async () => {
			// Other tests share this app and run in any order: compare against what was there before.
			const scrape = async () => {
				const metrics = (await testApp.app.inject({ method: "GET", url: "/metrics" })).body;
				const value = (name: string) =>
					Number(new RegExp(`^${name} (\\d+)$`, "m").exec(metrics)?.[1]);
				return {
					files: value("tollgate_files_stored"),
					bytes: value("tollgate_files_stored_bytes"),
					uploads: value("tollgate_files_uploads_total"),
				};
			};
			const before = await scrape();
			await upload(randomBytes(123));
			expect(await scrape()).toEqual({
				files: before.files + 1,
				bytes: before.bytes + 123,
				uploads: before.uploads + 1,
			});
		});

		it("refuses an oversized upload with 413 before its body has arrived, declared or chunked", async () => {
			const target = { port: await portOf(), path: "/file" };
			const status = (headers: Record<string, string | number>, firstChunk: Buffer) =>
				statusOfPartialPost(target, headers, firstChunk);
			expect(await status({ "content-length": MAX * 10 }, Buffer.alloc(1_000))).toBe(413);
			expect(await status({ "transfer-encoding": "chunked" }, randomBytes(MAX + 1_000))).toBe(413);
		});

		it("closes an upload that stalls after a few bytes once http.request_timeout_ms passes, keeping nothing", async () => {
			const filesBefore = await fileRecordCount();
			const blobsBefore = await storedCopies();
			const socket = connect(await portOf(), "127.0.0.1");
			let reply = "";
			socket.on("data", (data: Buffer) => {
				reply += data.toString("latin1");
			});
			const closed = once(socket, "close", {
				signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS + 3_000),
			});
			const startedAt = Date.now();
			socket.write(
				"POST /file HTTP/1.1\r\nHost: files.test\r\nContent-Type: application/octet-stream\r\n" +
					"Content-Length: 100000\r\n\r\nonly these few bytes",
			);
			const isClosedByServer = await closed.then(
				() => true,
				() => false,
			);
			// A connection the server left open would hold up the suite's app.close() as well.
			socket.destroy();
			expect(isClosedByServer, "the server still holds the stalled upload open").toBe(true);
			const openForMs = Date.now() - startedAt;
			expect(openForMs).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
			expect(openForMs).toBeLessThan(REQUEST_TIMEOUT_MS + 2_000);
			expect(reply).toMatch(/^HTTP\/1\.1 408 /);
			await vi.waitFor(async () => {
				expect(await incomingCount()).toBe(0);
				expect(await storedCopies()).toBe(blobsBefore);
				expect(await fileRecordCount()).toBe(filesBefore);
			});
		});

		it("uploads and downloads through onion requests v4, both ciphers", async () => {
			const serverPublic = await serverOnionKey(testApp.keys.ed25519.publicKey);
			for (const cipher of ["xchacha20", "aes-gcm"] as const) {
				const data = randomBytes(50_000);
				const put = buildOnionRequest(
					serverPublic,
					v4Plaintext(
						{
							method: "POST",
							endpoint: "/file",
							headers: { "Content-Type": "application/octet-stream" },
						},
						data,
					),
					{ cipher },
				);
				const putReply = put.openReply(
					(await testApp.app.inject({ method: "POST", url: "/oxen/v4/lsrpc", payload: put.body }))
						.rawPayload,
				);
				expect(putReply.meta).toEqual({
					code: 200,
					headers: { "content-type": "application/json" },
				});
				const { id } = JSON.parse(putReply.body.toString());
				const get = buildOnionRequest(
					serverPublic,
					v4Plaintext({ method: "GET", endpoint: `/file/${id}` }),
					{ cipher },
				);
				const getReply = get.openReply(
					(await testApp.app.inject({ method: "POST", url: "/oxen/v4/lsrpc", payload: get.body }))
						.rawPayload,
				);
				expect(getReply.meta.code).toBe(200);
				expect(getReply.meta.headers["content-type"]).toBe("application/octet-stream");
				expect(getReply.meta.headers.expires).toMatch(/ GMT$/);
				expect(Buffer.compare(getReply.body, data)).toBe(0);
			}
		});
	});
}

for (const backend of appBackends()) {
	describe.skipIf(backend.skip)(`numeric compat ids (${backend.name})`, () => {
		let testApp: TestApp;
		beforeAll(async () => {
			testApp = await buildTestAppOn(backend, {
				files: { backwards_compat_ids: true, backwards_compat_id_fixed_bits: "101" },
			});
		});
		afterAll(async () => {
			await testApp.close();
		});

		const upload = (body: string) =>
			testApp.app.inject({ method: "POST", url: "/file", payload: Buffer.from(body) });

		it("gives every upload a fresh id below 2^53 with the fixed leading bits, even for the same bytes", async () => {
			const first = (await upload("same bytes")).json();
			const second = (await upload("same bytes")).json();
			for (const { id } of [first, second]) {
				expect(typeof id).toBe("string");
				expect(id).toMatch(/^\d{1,16}$/);
				expect(BigInt(id) < 2n ** 53n).toBe(true);
				expect(BigInt(id) >> 50n).toBe(0b101n);
			}
			expect(first.id).not.toBe(second.id);
			const download = await testApp.app.inject({ method: "GET", url: `/file/${first.id}` });
			expect(download.body).toBe("same bytes");
			// An old numeric id may be reused later: it can never be extended.
			expect(
				(await testApp.app.inject({ method: "POST", url: `/file/${first.id}/extend` })).statusCode,
			).toBe(404);
		});

		it("answers the legacy /files route with the id as a JSON number", async () => {
			const response = await testApp.app.inject({
				method: "POST",
				url: "/files",
				payload: { file: Buffer.from("legacy bytes").toString("base64") },
			});
			const { result } = response.json();
			expect(typeof result).toBe("number");
			const fetched = await testApp.app.inject({ method: "GET", url: `/files/${result}` });
			expect(Buffer.from(fetched.json().result, "base64").toString()).toBe("legacy bytes");
		});
	});
}
