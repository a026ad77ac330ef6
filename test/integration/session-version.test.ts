/**
 * GET /session_version as Session clients call it (specs/session-file-server.md §5): releases polled from a
 * loopback fake of the GitHub REST API by the leased job, served from the database, optionally under a
 * version-blinded signature made with libsodium (an independent implementation) — directly and through
 * onion requests v3 and v4, on SQLite and PostgreSQL.
 */
import { readFileSync } from "node:fs";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { signedMessage, verifyVersionAuth } from "../../src/modules/files/version-auth.ts";
import { appBackends, buildTestAppOn, type TestApp } from "../support/build-test-app.ts";
import { FakeGitHub } from "../support/fake-github.ts";
import {
	buildOnionRequest,
	serverOnionKey,
	sodiumReady,
	v4Plaintext,
} from "../support/onion-client.ts";

const vector = (
	JSON.parse(readFileSync(new URL("../vectors/files.json", import.meta.url), "utf8")) as {
		version_blinding: {
			account_seed: string;
			blinded_seed: string;
			x_fs_pubkey: string;
			timestamp: number;
			message: string;
			signature_hex: string;
			signature_base64: string;
		};
	}
).version_blinding;

describe("version-blinded signatures", () => {
	const vectorRequest = {
		method: "GET",
		path: "/session_version",
		rawQuery: "platform=desktop",
		body: new Uint8Array(0),
	};

	it("libsodium still derives the stored blinded key from the account seed", async () => {
		const sodium = await sodiumReady();
		const blindedSeed = sodium.crypto_generichash(
			32,
			Buffer.from(vector.account_seed, "hex"),
			Buffer.from("VersionCheckKey_sig"),
		);
		expect(Buffer.from(blindedSeed).toString("hex")).toBe(vector.blinded_seed);
		const { publicKey } = sodium.crypto_sign_seed_keypair(blindedSeed);
		expect(`07${Buffer.from(publicKey).toString("hex")}`).toBe(vector.x_fs_pubkey);
	});

	it("signs the message the vector names, and Tollgate verifies it in hex and base64", () => {
		expect(signedMessage(vector.timestamp, vectorRequest).toString()).toBe(vector.message);
		for (const signature of [vector.signature_hex, vector.signature_base64]) {
			const result = verifyVersionAuth(
				{
					...vectorRequest,
					headers: {
						pubkey: vector.x_fs_pubkey,
						timestamp: String(vector.timestamp),
						signature,
					},
				},
				vector.timestamp + 60,
			);
			expect(result).toEqual({ kind: "verified", blindedId: vector.x_fs_pubkey });
		}
	});

	it("refuses keys that are not 07-prefixed points of the main subgroup", () => {
		const smallOrderPoint = `07${"01".padEnd(64, "0")}`;
		const wrongPrefix = `05${vector.x_fs_pubkey.slice(2)}`;
		for (const pubkey of [smallOrderPoint, wrongPrefix, "07abc", "not a key"]) {
			const result = verifyVersionAuth(
				{
					...vectorRequest,
					headers: {
						pubkey,
						timestamp: String(vector.timestamp),
						signature: vector.signature_hex,
					},
				},
				vector.timestamp,
			);
			expect(result).toMatchObject({ kind: "rejected", status: 400 });
		}
	});
});

for (const backend of appBackends()) {
	describe.skipIf(backend.skip)(`GET /session_version (${backend.name})`, () => {
		let github: FakeGitHub;
		let testApp: TestApp;
		let sodium: Awaited<ReturnType<typeof sodiumReady>>;

		beforeAll(async () => {
			sodium = await sodiumReady();
		});
		beforeEach(async () => {
			github = await FakeGitHub.start();
			testApp = await buildTestAppOn(backend, {
				files: { github_api_url: github.url },
			});
		});
		afterEach(async () => {
			await testApp.close();
			await github.stop();
		});

		async function runJob(name: string): Promise<void> {
			const job = testApp.jobs.find((candidate) => candidate.name === name);
			if (job === undefined) throw new Error(`no job ${name} is registered`);
			await job.run({ signal: new AbortController().signal, nowMs: testApp.clock.nowMs() });
		}

		const poll = () => runJob("files.poll-releases");

		function get(query: string, headers: Record<string, string> = {}) {
			return testApp.app.inject({ method: "GET", url: `/session_version?${query}`, headers });
		}

		function signedHeaders(pathAndQuery: string, timestamp: number): Record<string, string> {
			const blindedSeed = sodium.crypto_generichash(
				32,
				Buffer.from(vector.account_seed, "hex"),
				Buffer.from("VersionCheckKey_sig"),
			);
			const { publicKey, privateKey } = sodium.crypto_sign_seed_keypair(blindedSeed);
			const signature = sodium.crypto_sign_detached(
				Buffer.from(`${timestamp}GET${pathAndQuery}`),
				privateKey,
			);
			return {
				"X-FS-Pubkey": `07${Buffer.from(publicKey).toString("hex")}`,
				"X-FS-Timestamp": String(timestamp),
				"X-FS-Signature": Buffer.from(signature).toString("base64"),
			};
		}

		const nowSeconds = () => Math.floor(testApp.clock.nowMs() / 1_000);

		function publishDesktopReleases(): void {
			const repository = "session-foundation/session-desktop";
			github.publish(repository, {
				tag: "v1.2.3",
				name: "Session 1.2.3",
				body: "Fixes",
				assets: ["session-desktop-linux-x86_64-1.2.3.AppImage", "session-desktop-mac-1.2.3.dmg"],
			});
			github.publish(repository, { tag: "v1.3.0-beta.1", prerelease: true, name: "" });
			github.publish(repository, { tag: "v1.3.0-alpha.2", prerelease: true });
			github.publish(repository, { tag: "nightly-build", prerelease: true });
		}

		it("answers 404 for an unknown platform and 502 before any release is known", async () => {
			const unknown = await get("platform=foo");
			expect(unknown.statusCode).toBe(404);
			expect(unknown.headers["content-type"]).toBe("application/json");
			expect(unknown.json()).toEqual({ status_code: 404 });
			expect((await get("platform=desktop")).json()).toEqual({ status_code: 502 });
		});

		it("serves each channel from the polled releases, in the original's shape", async () => {
			publishDesktopReleases();
			await poll();
			const updated = testApp.clock.nowMs() / 1_000;
			const stable = await get("platform=desktop");
			expect(stable.statusCode).toBe(200);
			expect(stable.headers["content-type"]).toBe("application/json");
			expect(stable.body).toBe(
				JSON.stringify({
					status_code: 200,
					updated,
					result: "1.2.3",
					name: "Session 1.2.3",
					notes: "Fixes",
					assets: [
						{
							name: "session-desktop-linux-x86_64-1.2.3.AppImage",
							url: `${github.url}/repos/session-foundation/session-desktop/releases/assets/100`,
						},
						{
							name: "session-desktop-mac-1.2.3.dmg",
							url: `${github.url}/repos/session-foundation/session-desktop/releases/assets/101`,
						},
					],
					prerelease: { result: "1.3.0", updated, notes: "Release notes for v1.3.0-beta.1" },
				}),
			);
			expect((await get("platform=desktop&release_channel=latest")).body).toBe(stable.body);
			expect((await get("platform=desktop&release_channel=prerelease")).json()).toMatchObject({
				result: "1.3.0",
			});
			expect((await get("platform=desktop&release_channel=alpha")).json()).toMatchObject({
				result: "1.3.0-alpha.2",
				name: "v1.3.0-alpha.2",
			});
			expect((await get("platform=desktop&release_channel=nightly")).json()).toEqual({
				status_code: 502,
			});
			// No release published for Android: its project was polled, but has nothing to serve.
			expect((await get("platform=android")).json()).toEqual({ status_code: 502 });
		});

		it("sees only the newest three releases plus the latest stable one", async () => {
			const repository = "session-foundation/session-android";
			github.publish(repository, { tag: "1.20.0" });
			for (const tag of ["1.21.0-alpha.1", "1.21.0-alpha.2", "1.21.0-alpha.3", "1.21.0-alpha.4"]) {
				github.publish(repository, { tag, prerelease: true });
			}
			await poll();
			expect((await get("platform=android")).json()).toMatchObject({ result: "1.20.0" });
			expect((await get("platform=android&release_channel=alpha")).json()).toMatchObject({
				result: "1.21.0-alpha.4",
			});
			const rows = await testApp.storage.sql.db
				.withTables<{ releases: { alpha: number | null } }>()
				.selectFrom("releases")
				.select("alpha")
				.orderBy("alpha")
				.execute();
			expect(rows.map((row) => row.alpha).sort()).toEqual([2, 3, 4, null]);
		});

		it("polls each project once per interval, with ETags, and waits out GitHub's rate limit", async () => {
			publishDesktopReleases();
			await poll();
			expect(github.requests.map((request) => request.path)).toEqual([
				"/repos/session-foundation/session-desktop/releases/latest",
				"/repos/session-foundation/session-desktop/releases?per_page=3",
				"/repos/session-foundation/session-android/releases/latest",
				"/repos/session-foundation/session-android/releases?per_page=3",
				"/repos/session-foundation/session-ios/releases/latest",
				"/repos/session-foundation/session-ios/releases?per_page=3",
			]);
			github.requests.length = 0;
			testApp.clock.advanceMs(10 * 60_000);
			await poll();
			expect(github.requests).toEqual([]);

			testApp.clock.advanceMs(25 * 60_000);
			await poll();
			const desktop = github.requests.filter((request) => request.path.includes("desktop"));
			expect(desktop.map((request) => request.status)).toEqual([304, 304]);
			expect(desktop.every((request) => request.ifNoneMatch?.startsWith('W/"'))).toBe(true);
			expect((await get("platform=desktop")).json()).toMatchObject({
				result: "1.2.3",
				updated: testApp.clock.nowMs() / 1_000,
			});

			const lastGoodUpdate = testApp.clock.nowMs() / 1_000;
			github.requests.length = 0;
			github.remaining = 0;
			github.resetEpochSeconds = Math.floor(testApp.clock.nowMs() / 1_000) + 3_600;
			testApp.clock.advanceMs(31 * 60_000);
			await poll();
			// The first refusal stops the round: the other projects would only be refused too.
			expect(github.requests.map((request) => request.status)).toEqual([403]);
			github.requests.length = 0;
			testApp.clock.advanceMs(10 * 60_000);
			await poll();
			expect(github.requests).toEqual([]);
			expect((await get("platform=desktop")).json()).toMatchObject({ updated: lastGoodUpdate });

			github.remaining = 60;
			testApp.clock.advanceMs(20 * 60_000);
			await poll();
			expect(github.requests.length).toBe(6);
		});

		it("sends the configured token as a bearer token", async () => {
			await testApp.close();
			testApp = await buildTestAppOn(backend, {
				files: { github_api_url: github.url, github_token: "ghp_test_token_0123456789" },
			});
			await poll();
			expect(github.requests[0]?.authorization).toBe("Bearer ghp_test_token_0123456789");
		});

		it("checks version-blinded signatures: 400 for missing headers, 425 for a skewed clock, 401 for a bad signature", async () => {
			publishDesktopReleases();
			await poll();
			const now = nowSeconds();
			const headers = signedHeaders("/session_version?platform=desktop", now);

			for (const missing of ["X-FS-Pubkey", "X-FS-Timestamp", "X-FS-Signature"]) {
				const partial = { ...headers, [missing]: "" };
				const response = await get("platform=desktop", partial);
				expect(response.statusCode).toBe(400);
				expect(response.headers["content-type"]).toBe("text/plain; charset=utf-8");
				expect(response.body).toBe(
					"Invalid authentication: one or more X-FS-* auth headers is missing",
				);
			}
			const skewed = signedHeaders("/session_version?platform=desktop", now - 86_401);
			expect((await get("platform=desktop", skewed)).statusCode).toBe(425);
			const otherQuery = signedHeaders("/session_version?platform=android", now);
			expect((await get("platform=desktop", otherQuery)).statusCode).toBe(401);
			expect(
				(await get("platform=desktop", { ...headers, "X-FS-Timestamp": "soon" })).statusCode,
			).toBe(400);

			const counted = () =>
				testApp.storage.sql.db
					.withTables<{ account_version_checks: { blinded_id: string; channel: string } }>()
					.selectFrom("account_version_checks")
					.select(["blinded_id", "channel"])
					.execute();
			expect(await counted()).toEqual([]);
			expect((await get("platform=desktop", headers)).json()).toMatchObject({ result: "1.2.3" });
			// Desktop signs its channel too; the signature covers the query exactly as sent.
			const desktopQuery = "platform=desktop&release_channel=stable";
			const desktop = await get(
				desktopQuery,
				signedHeaders(`/session_version?${desktopQuery}`, now),
			);
			expect(desktop.statusCode).toBe(200);
			expect(await counted()).toEqual([
				{ blinded_id: headers["X-FS-Pubkey"], channel: "stable" },
				{ blinded_id: headers["X-FS-Pubkey"], channel: "stable" },
			]);
		});

		it("prunes version checks past their retention", async () => {
			publishDesktopReleases();
			await poll();
			const headers = signedHeaders("/session_version?platform=desktop", nowSeconds());
			expect((await get("platform=desktop", headers)).statusCode).toBe(200);
			testApp.clock.advanceMs(31 * 86_400_000);
			await runJob("files.prune-version-checks");
			const left = await testApp.storage.sql.db
				.withTables<{ account_version_checks: { blinded_id: string } }>()
				.selectFrom("account_version_checks")
				.select("blinded_id")
				.execute();
			expect(left).toEqual([]);
		});

		it("answers through onion requests: v3 without a leading slash (upstream test_v3) and v4", async () => {
			publishDesktopReleases();
			await poll();
			const serverPublic = await serverOnionKey(testApp.keys.ed25519.publicKey);
			const v3 = buildOnionRequest(
				serverPublic,
				Buffer.from(
					JSON.stringify({ method: "GET", endpoint: "session_version?platform=desktop" }),
				),
				{ cipher: "xchacha20" },
			);
			const v3Response = await testApp.app.inject({
				method: "POST",
				url: "/loki/v3/lsrpc",
				payload: v3.body,
			});
			expect(v3Response.statusCode).toBe(200);
			const v3Reply = JSON.parse(
				Buffer.from(v3.decrypt(Buffer.from(v3Response.body, "base64"))).toString(),
			);
			expect(v3Reply).toMatchObject({ status_code: 200, result: "1.2.3" });
			expect(Math.abs(v3Reply.updated - testApp.clock.nowMs() / 1_000)).toBeLessThan(1);

			const query = "/session_version?platform=desktop";
			const v4 = buildOnionRequest(
				serverPublic,
				v4Plaintext({
					method: "GET",
					endpoint: query,
					headers: signedHeaders(query, nowSeconds()),
				}),
				{ cipher: "aes-gcm" },
			);
			const v4Response = await testApp.app.inject({
				method: "POST",
				url: "/oxen/v4/lsrpc",
				payload: v4.body,
			});
			const { meta, body } = v4.openReply(v4Response.rawPayload);
			expect(meta).toEqual({ code: 200, headers: { "content-type": "application/json" } });
			expect(JSON.parse(body.toString())).toMatchObject({ status_code: 200, result: "1.2.3" });
		});
	});
}
