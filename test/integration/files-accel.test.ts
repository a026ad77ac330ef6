/**
 * edge/files.conf in front of a listening Tollgate (files.accel_redirect_prefix set): Tollgate checks the id
 * and expiry of GET /file/<id>, nginx sends the bytes from the blob directory, ranges included, with
 * Tollgate's headers. Onion requests, dispatched inside Tollgate, still carry the bytes themselves.
 */
import { randomBytes } from "node:crypto";
import { chmod, unlink } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fileIdOf } from "../../src/modules/files/file-id.ts";
import { buildTestApp, type TestApp } from "../support/build-test-app.ts";
import { nginxSkipReason, type RunningNginx } from "../support/nginx.ts";
import { FILES_ACCEL_PREFIX, startNginxFiles } from "../support/nginx-files.ts";
import { buildOnionRequest, devServerOnionKey, v4Plaintext } from "../support/onion-client.ts";

const skipReason = nginxSkipReason();
if (skipReason !== null && process.env.CI === "true")
	throw new Error(`CI needs nginx for edge/files.conf: ${skipReason}`);

/** Past files.inline_max_bytes (64 KiB): kept in the blob store, so nginx can send it. */
const BLOB_SIZED = 70_000;

describe.skipIf(skipReason !== null)(
	"files behind nginx (edge/files.conf, X-Accel-Redirect)",
	() => {
		let testApp: TestApp;
		let nginx: RunningNginx;

		beforeAll(async () => {
			testApp = await buildTestApp({
				files: { accel_redirect_prefix: FILES_ACCEL_PREFIX, max_ttl_seconds: 86_400 },
			});
			// nginx's workers run as nobody; the blob store's own directories and files are world-readable.
			await chmod(testApp.config.data_dir, 0o755);
			const address = await testApp.app.listen({ host: "127.0.0.1", port: 0 });
			nginx = await startNginxFiles({
				tollgatePort: Number(new URL(address).port),
				blobRoot: join(testApp.config.data_dir, "blobs"),
			});
		});
		afterAll(async () => {
			await nginx?.stop();
			await testApp?.close();
		});

		async function uploadThroughNginx(
			data: Buffer,
			headers: Record<string, string> = {},
		): Promise<{ id: string; expires: number }> {
			const response = await fetch(`${nginx.url}/file`, { method: "POST", headers, body: data });
			expect(response.status).toBe(200);
			return (await response.json()) as { id: string; expires: number };
		}

		/** What Tollgate itself answers to a direct GET: the redirect nginx follows. */
		async function tollgateRedirect(id: string) {
			return testApp.app.inject({ method: "GET", url: `/file/${id}` });
		}

		it("Tollgate answers a live file with an empty 200 and X-Accel-Redirect to its blob", async () => {
			const { id } = await uploadThroughNginx(randomBytes(BLOB_SIZED));
			const redirect = await tollgateRedirect(id);
			expect(redirect.statusCode).toBe(200);
			expect(redirect.rawPayload.length).toBe(0);
			expect(redirect.headers["content-type"]).toBe("application/octet-stream");
			// nginx adds its own when it sends the file; nginx would also pass this one on, doubling it.
			expect(redirect.headers["accept-ranges"]).toBeUndefined();
			expect(redirect.headers.expires).toMatch(/ GMT$/);
			const location = String(redirect.headers["x-accel-redirect"]);
			expect(location).toMatch(/^\/_tollgate_blobs\/[A-Za-z0-9_-]{2}\/[A-Za-z0-9_-]+$/);
		});

		it("a small file kept in its record is answered by Tollgate with its bytes: there is no file to hand off", async () => {
			const data = randomBytes(1_000);
			const { id } = await uploadThroughNginx(data);
			const direct = await tollgateRedirect(id);
			expect(direct.headers["x-accel-redirect"]).toBeUndefined();
			expect(direct.rawPayload.equals(data)).toBe(true);
			const throughNginx = await fetch(`${nginx.url}/file/${id}`);
			expect(Buffer.from(await throughNginx.arrayBuffer()).equals(data)).toBe(true);
		});

		it("nginx sends the exact bytes with Tollgate's Expires, Content-Type and Accept-Ranges", async () => {
			// Past nginx's default 1 MiB client_max_body_size: files.conf must raise it.
			const data = randomBytes(2 * 1_048_576 + 13);
			const { id, expires } = await uploadThroughNginx(data, {
				"content-type": "application/octet-stream",
			});
			expect(id).toBe(fileIdOf(data));
			const download = await fetch(`${nginx.url}/file/${id}`);
			expect(download.status).toBe(200);
			expect(Buffer.compare(Buffer.from(await download.arrayBuffer()), data)).toBe(0);
			expect(download.headers.get("content-type")).toBe("application/octet-stream");
			expect(download.headers.get("accept-ranges")).toBe("bytes");
			expect(download.headers.get("expires")).toBe((await tollgateRedirect(id)).headers.expires);
			expect(Date.parse(download.headers.get("expires") ?? "")).toBe(Math.floor(expires) * 1_000);
			// Only nginx's static module adds Last-Modified: the bytes did not come through Tollgate.
			expect(download.headers.get("last-modified")).not.toBeNull();
			expect(download.headers.get("x-accel-redirect")).toBeNull();
		});

		it("nginx answers Range requests itself: 206 with the slice, 416 past the end", async () => {
			const data = randomBytes(100_000);
			const { id } = await uploadThroughNginx(data);
			const partial = await fetch(`${nginx.url}/file/${id}`, {
				headers: { range: "bytes=100-199" },
			});
			expect(partial.status).toBe(206);
			expect(partial.headers.get("content-range")).toBe("bytes 100-199/100000");
			expect(
				Buffer.compare(Buffer.from(await partial.arrayBuffer()), data.subarray(100, 200)),
			).toBe(0);
			const suffix = await fetch(`${nginx.url}/file/${id}`, { headers: { range: "bytes=-10" } });
			expect(suffix.status).toBe(206);
			expect(Buffer.compare(Buffer.from(await suffix.arrayBuffer()), data.subarray(-10))).toBe(0);
			const beyond = await fetch(`${nginx.url}/file/${id}`, {
				headers: { range: "bytes=200000-" },
			});
			await beyond.arrayBuffer();
			expect(beyond.status).toBe(416);
		});

		it("an expired (X-FS-TTL: 0) or unknown file is Tollgate's 404 JSON, not a redirect", async () => {
			const { id } = await uploadThroughNginx(randomBytes(64), { "x-fs-ttl": "0" });
			for (const path of [`/file/${id}`, `/file/${"A".repeat(44)}`, "/file/12345"]) {
				const response = await fetch(`${nginx.url}${path}`);
				expect(response.status, path).toBe(404);
				expect(response.headers.get("content-type"), path).toBe("application/json");
				expect(await response.json(), path).toEqual({ status_code: 404 });
			}
		});

		it("the blob location is internal: asked for directly, even a live blob is 404", async () => {
			const { id } = await uploadThroughNginx(randomBytes(BLOB_SIZED));
			const location = String((await tollgateRedirect(id)).headers["x-accel-redirect"]);
			const direct = await fetch(`${nginx.url}${location}`);
			await direct.arrayBuffer();
			expect(direct.status).toBe(404);
		});

		it("a blob gone between Tollgate's check and nginx (the sweep) is 404 JSON too", async () => {
			const { id } = await uploadThroughNginx(randomBytes(BLOB_SIZED));
			const location = String((await tollgateRedirect(id)).headers["x-accel-redirect"]);
			await unlink(
				join(testApp.config.data_dir, "blobs", location.slice(FILES_ACCEL_PREFIX.length)),
			);
			const response = await fetch(`${nginx.url}/file/${id}`);
			expect(response.status).toBe(404);
			expect(response.headers.get("content-type")).toBe("application/json");
			expect(await response.json()).toEqual({ status_code: 404 });
		});

		it("a client's own X-Tollgate-Transport header is dropped by nginx: still a hand-off", async () => {
			const { id } = await uploadThroughNginx(randomBytes(BLOB_SIZED));
			const response = await fetch(`${nginx.url}/file/${id}`, {
				headers: { "x-tollgate-transport": "onion" },
			});
			await response.arrayBuffer();
			expect(response.status).toBe(200);
			expect(response.headers.get("last-modified")).not.toBeNull();
		});

		it("onion requests (v4 and v3) get the bytes from Tollgate, never the redirect", async () => {
			const data = randomBytes(30_000);
			const { id } = await uploadThroughNginx(data);
			const serverPublic = await devServerOnionKey();
			const v4 = buildOnionRequest(
				serverPublic,
				v4Plaintext({ method: "GET", endpoint: `/file/${id}` }),
				{
					cipher: "xchacha20",
				},
			);
			const v4Reply = v4.openReply(
				(await testApp.app.inject({ method: "POST", url: "/oxen/v4/lsrpc", payload: v4.body }))
					.rawPayload,
			);
			expect(v4Reply.meta.code).toBe(200);
			expect(v4Reply.meta.headers["x-accel-redirect"]).toBeUndefined();
			expect(v4Reply.meta.headers.expires).toMatch(/ GMT$/);
			expect(Buffer.compare(v4Reply.body, data)).toBe(0);

			// A client cannot talk the transport out of it by sending the header with another value.
			const v3 = buildOnionRequest(
				serverPublic,
				Buffer.from(
					JSON.stringify({
						method: "GET",
						endpoint: `/file/${id}`,
						headers: { "X-Tollgate-Transport": "direct" },
					}),
				),
				{ cipher: "aes-gcm" },
			);
			const v3Response = await testApp.app.inject({
				method: "POST",
				url: "/loki/v3/lsrpc",
				payload: v3.body,
			});
			const v3Reply = Buffer.from(v3.decrypt(Buffer.from(v3Response.body, "base64")));
			expect(Buffer.compare(v3Reply, data)).toBe(0);
		});

		it("the legacy GET /files/<id> still answers base64 JSON itself", async () => {
			const data = randomBytes(3_000);
			const { id } = await uploadThroughNginx(data);
			const response = await fetch(`${nginx.url}/files/${id}`);
			expect(await response.json()).toEqual({ status_code: 200, result: data.toString("base64") });
		});
	},
);

describe("files.accel_redirect_prefix with blobs in the database", () => {
	it("is ignored with a warning: there are no files for nginx to send, so Tollgate streams", async () => {
		const testApp = await buildTestApp({
			blobs: { backend: "database" },
			files: { accel_redirect_prefix: FILES_ACCEL_PREFIX },
		});
		try {
			const data = randomBytes(5_000);
			const { id } = (
				await testApp.app.inject({ method: "POST", url: "/file", payload: data })
			).json();
			const download = await testApp.app.inject({ method: "GET", url: `/file/${id}` });
			expect(download.headers["x-accel-redirect"]).toBeUndefined();
			expect(Buffer.compare(download.rawPayload, data)).toBe(0);
			expect(
				testApp
					.logs()
					.some((line) => String(line.msg).startsWith("files.accel_redirect_prefix is ignored")),
			).toBe(true);
		} finally {
			await testApp.close();
		}
	});
});
