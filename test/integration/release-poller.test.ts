/**
 * The release poller when GitHub is not there (specs/session-file-server.md §5.1, §12 D12): an unreachable
 * or failing GitHub costs one warn line per poll, with the reason and without a stack; polls back off while
 * it goes on and start over after a success; /session_version keeps serving what was cached; /metrics
 * counts the polls; and files.session_version.enabled = false starts no poller at all.
 * @see issue 18 (offline GitHub release poller)
 */
import { once } from "node:events";
import { createServer } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { appBackends, buildTestAppOn, type TestApp } from "../support/build-test-app.ts";
import { FakeGitHub } from "../support/fake-github.ts";

const MINUTE_MS = 60_000;
const WARN = 40;
const DESKTOP = "session-foundation/session-desktop";

/** A loopback address nothing listens on: a port just given up by a listener of our own. */
async function unreachableUrl(): Promise<string> {
	const server = createServer().listen(0, "127.0.0.1");
	await once(server, "listening");
	const address = server.address();
	if (address === null || typeof address === "string") throw new Error("no port");
	server.close();
	await once(server, "close");
	return `http://127.0.0.1:${address.port}`;
}

for (const backend of appBackends()) {
	describe.skipIf(backend.skip)(`the release poller without GitHub (${backend.name})`, () => {
		let github: FakeGitHub;
		let testApp: TestApp;
		let linesSeen = 0;

		beforeEach(async () => {
			github = await FakeGitHub.start();
		});
		afterEach(async () => {
			await testApp.close();
			await github.stop();
		});

		async function start(files: Record<string, unknown>): Promise<void> {
			testApp = await buildTestAppOn(backend, { files });
			linesSeen = testApp.logs().length;
		}

		async function runJob(name: string): Promise<void> {
			const job = testApp.jobs.find((candidate) => candidate.name === name);
			if (job === undefined) throw new Error(`no job ${name} is registered`);
			await job.run({ signal: new AbortController().signal, nowMs: testApp.clock.nowMs() });
		}

		const poll = () => runJob("files.poll-releases");

		/** The log lines written since the last call. */
		function newLines(): Record<string, unknown>[] {
			const lines = testApp.logs();
			const fresh = lines.slice(linesSeen);
			linesSeen = lines.length;
			return fresh;
		}

		const warnings = (lines: Record<string, unknown>[]) =>
			lines.filter((line) => typeof line.level === "number" && line.level >= WARN);

		function getVersion(platform = "desktop") {
			return testApp.app.inject({ method: "GET", url: `/session_version?platform=${platform}` });
		}

		async function metric(series: string): Promise<number | undefined> {
			const text = (await testApp.app.inject({ url: "/metrics" })).body;
			const line = text.split("\n").find((candidate) => candidate.startsWith(`${series} `));
			return line === undefined ? undefined : Number(line.slice(series.length + 1));
		}

		it("logs an unreachable GitHub as one warn line per poll, with the reason and no stack", async () => {
			const url = await unreachableUrl();
			await start({ github_api_url: url });
			await poll();
			const [line, ...others] = warnings(newLines());
			expect(others).toEqual([]);
			expect(line?.msg).toBe(
				`files: GitHub releases not refreshed (connect ECONNREFUSED ${url.slice("http://".length)}); next try in 5 min`,
			);
			expect(line).toMatchObject({
				code: "ECONNREFUSED",
				next_try_in_seconds: 300,
				projects: [DESKTOP, "session-foundation/session-android", "session-foundation/session-ios"],
			});
			expect(line).not.toHaveProperty("err");
			expect(JSON.stringify(line)).not.toMatch(/stack|\n\s+at /);
			// Nothing was ever fetched: the answer Session clients already meet before the first poll.
			expect((await getVersion()).json()).toEqual({ status_code: 502 });

			// The minute ticks until the wait is over ask nothing and say nothing.
			newLines();
			testApp.clock.advanceMs(5 * MINUTE_MS - 1);
			await poll();
			expect(newLines()).toEqual([]);
			testApp.clock.advanceMs(1);
			await poll();
			expect(warnings(newLines()).map((warning) => warning.msg)).toEqual([
				expect.stringMatching(/ECONNREFUSED .*; next try in 10 min$/),
			]);
		});

		it("waits 5, 10, 20, 40, then 60 minutes while GitHub answers errors, and starts over after a success", async () => {
			await start({ github_api_url: github.url });
			github.outageStatus = 503;
			await poll();
			// Each project was asked once (its failure is its own), and the poll said so in one line.
			expect(github.requests.map((request) => request.status)).toEqual([503, 503, 503]);
			expect(warnings(newLines())).toEqual([
				expect.objectContaining({
					msg: "files: GitHub releases not refreshed (GitHub answered 503); next try in 5 min",
					code: "http_503",
				}),
			]);

			const waitsMinutes = [5, 10, 20, 40, 60, 60];
			for (const [index, waitMinutes] of waitsMinutes.entries()) {
				github.requests.length = 0;
				testApp.clock.advanceMs(waitMinutes * MINUTE_MS - 1);
				await poll();
				expect(github.requests).toEqual([]);
				testApp.clock.advanceMs(1);
				await poll();
				expect(github.requests.length).toBe(3);
				const nextWait = waitsMinutes[index + 1] ?? 60;
				expect(warnings(newLines()).map((warning) => warning.msg)).toEqual([
					`files: GitHub releases not refreshed (GitHub answered 503); next try in ${nextWait} min`,
				]);
			}

			github.outageStatus = undefined;
			github.publish(DESKTOP, { tag: "v1.2.3" });
			testApp.clock.advanceMs(60 * MINUTE_MS);
			await poll();
			const recovered = newLines();
			expect(warnings(recovered)).toEqual([]);
			expect(recovered.map((line) => line.msg)).toContain("files: GitHub releases refreshed again");
			expect((await getVersion()).json()).toMatchObject({ status_code: 200, result: "1.2.3" });

			// The next outage, once the releases are due again, starts from the first wait.
			github.outageStatus = 500;
			testApp.clock.advanceMs(30 * MINUTE_MS);
			await poll();
			expect(warnings(newLines()).map((warning) => warning.msg)).toEqual([
				"files: GitHub releases not refreshed (GitHub answered 500); next try in 5 min",
			]);
		});

		it("keeps serving the cached releases while GitHub is down, and counts the polls at /metrics", async () => {
			await start({ github_api_url: github.url });
			expect(await metric('tollgate_files_release_polls_total{outcome="failed"}')).toBe(0);
			github.publish(DESKTOP, { tag: "v1.2.3" });
			await poll();
			const refreshedAtSeconds = testApp.clock.nowMs() / 1_000;
			expect(await metric('tollgate_files_release_polls_total{outcome="ok"}')).toBe(1);
			const refreshedSeries = `tollgate_files_releases_refreshed_timestamp_seconds{project="${DESKTOP}"}`;
			expect(await metric(refreshedSeries)).toBe(refreshedAtSeconds);

			github.outageStatus = 502;
			testApp.clock.advanceMs(31 * MINUTE_MS);
			await poll();
			testApp.clock.advanceMs(5 * MINUTE_MS);
			await poll();
			expect(await metric('tollgate_files_release_polls_total{outcome="failed"}')).toBe(2);
			expect(await metric('tollgate_files_release_polls_total{outcome="ok"}')).toBe(1);
			expect(await metric(refreshedSeries)).toBe(refreshedAtSeconds);
			expect((await getVersion()).json()).toMatchObject({
				status_code: 200,
				result: "1.2.3",
				updated: refreshedAtSeconds,
			});

			testApp.clock.advanceMs(10 * MINUTE_MS);
			github.outageStatus = undefined;
			github.remaining = 0;
			github.resetEpochSeconds = Math.floor(testApp.clock.nowMs() / 1_000) + 3_600;
			newLines();
			await poll();
			expect(await metric('tollgate_files_release_polls_total{outcome="rate_limited"}')).toBe(1);
			expect(warnings(newLines()).map((warning) => warning.msg)).toEqual([
				"files: GitHub releases not refreshed (GitHub rate limit reached); next try in 60 min",
			]);
		});

		it("starts no poller with files.session_version.enabled = false: GitHub is never asked, /session_version answers 502", async () => {
			await start({ github_api_url: github.url, session_version: { enabled: false } });
			github.publish(DESKTOP, { tag: "v1.2.3" });
			const filesJobs = testApp.jobs.filter((job) => job.name.startsWith("files."));
			expect(filesJobs.map((job) => job.name)).not.toContain("files.poll-releases");
			for (const job of filesJobs) await runJob(job.name);
			testApp.clock.advanceMs(24 * 60 * MINUTE_MS);
			for (const job of filesJobs) await runJob(job.name);
			expect(github.requests).toEqual([]);
			expect((await getVersion()).json()).toEqual({ status_code: 502 });
			expect((await getVersion("foo")).json()).toEqual({ status_code: 404 });
			expect(await metric('tollgate_files_release_polls_total{outcome="failed"}')).toBeUndefined();
		});
	});
}
