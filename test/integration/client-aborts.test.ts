/**
 * A client that hangs up before its request body is complete is its own business: logged at info as
 * `client_aborted`, never as a server error, on every route that takes a body.
 * @see issue 11: aborted uploads were logged at error level with a stack (50 lines in one fuzz run).
 */
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { readdirSync, readlinkSync } from "node:fs";
import { connect } from "node:net";
import { sep } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildFullApp, FULL_APP_API_KEY, type FullApp } from "../support/full-app.ts";

let full: FullApp;
let port: number;

beforeAll(async () => {
	full = await buildFullApp();
	port = Number(new URL(await full.testApp.app.listen({ host: "127.0.0.1", port: 0 })).port);
});
afterAll(async () => {
	await full.close();
});

const logged = (code: string) => full.testApp.logs().filter((line) => line.code === code).length;

/** Sends the head and part of a body, then drops the connection; resolves once the abort is logged. */
async function hangUpMidBody(method: string, path: string, contentType: string): Promise<void> {
	const before = logged("client_aborted");
	const received = once(full.testApp.app.server, "request");
	const socket = connect(port, "127.0.0.1");
	await once(socket, "connect");
	socket.write(
		`${method} ${path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ${FULL_APP_API_KEY}\r\nContent-Type: ${contentType}\r\nContent-Length: 100000\r\n\r\n{"data": {"a": "only part`,
	);
	// The server has the request (its head and part of its body) when the client goes.
	await received;
	socket.destroy();
	while (logged("client_aborted") === before)
		await new Promise((resolve) => setTimeout(resolve, 20));
}

describe("a client hanging up mid-body", () => {
	it.each([
		["POST", "/file", "application/octet-stream"],
		["POST", "/files", "application/json"],
		["POST", "/sessions", "application/json"],
		["PATCH", "/sessions/AAAAAAAAAAAAAAAAAAAAAAAA", "application/json"],
		["POST", "/generate_pro_proof", "application/json"],
		["POST", "/dev/add_payment", "application/json"],
		["POST", "/oxen/v4/lsrpc", "application/octet-stream"],
		["POST", "/apple_notifications_v2", "application/json"],
		["POST", "/google_notifications", "application/json"],
	])("%s %s is logged as client_aborted, not as an error", async (method, path, contentType) => {
		await hangUpMidBody(method, path, contentType);
		const errors = full.testApp.logs().filter((line) => Number(line.level) >= 50);
		expect(errors).toEqual([]);
	});
});

describe("a client hanging up mid-download", () => {
	const openBlobFiles = () =>
		readdirSync("/proc/self/fd").filter((fd) => {
			try {
				return readlinkSync(`/proc/self/fd/${fd}`).includes(`${sep}blobs${sep}`);
			} catch {
				return false;
			}
		}).length;

	it("leaves no blob file open behind it", async () => {
		const upload = await full.testApp.app.inject({
			method: "POST",
			url: "/file",
			payload: randomBytes(4 * 1_048_576),
			headers: { "content-type": "application/octet-stream" },
		});
		const { id } = upload.json() as { id: string };
		for (let round = 0; round < 5; round += 1) {
			const socket = connect(port, "127.0.0.1");
			await once(socket, "connect");
			socket.write(`GET /file/${id} HTTP/1.1\r\nHost: t\r\n\r\n`);
			// The headers and the first bytes are out: the blob is open and being streamed.
			await once(socket, "data");
			socket.destroy();
		}
		// Closing is asynchronous, but nothing else closes a leaked handle: without it this never ends.
		while (openBlobFiles() > 0) await new Promise((resolve) => setTimeout(resolve, 20));
		expect(openBlobFiles()).toBe(0);
	});
});
