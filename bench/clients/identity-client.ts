/**
 * The identity benches' clients: an account set up as its owner would (the CLI's link, then OPAQUE with
 * the cheapest key stretching, the client's Argon2 being no server cost), a browser's sign-in that leaves
 * a session, the authorization codes that session then gets without another login, and a driver that
 * posts forms with a fixed concurrency and times each answer.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import * as opaque from "@serenity-kit/opaque";
import { CookieJar } from "../../test/support/cookie-jar.ts";

export const BENCH_PASSWORD = "bench password";
/** The client's Argon2 is the client's cost, not the server's: the cheapest stretching the library takes. */
export const CHEAP_KEY_STRETCHING = {
	"argon2id-custom": { iterations: 1, memory: 8, parallelism: 1 },
} as const;

async function postJson(url: string, body: unknown): Promise<Record<string, string>> {
	const response = await fetch(url, {
		method: "POST",
		headers: { "content-type": "application/json" },
		body: JSON.stringify(body),
	});
	return (await response.json()) as Record<string, string>;
}

/** `tollgate <args>` on the bench server's data directory; its standard output. */
export async function runTollgateCli(dataDir: string, args: readonly string[]): Promise<string> {
	const { stdout } = await promisify(execFile)(
		process.execPath,
		[new URL("../../bin/tollgate.js", import.meta.url).pathname, ...args],
		{ env: { ...process.env, TOLLGATE_DATA_DIR: dataDir } },
	);
	return stdout;
}

/** An account with BENCH_PASSWORD, set through the link `identity users add` prints. */
export async function addUserWithPassword(
	base: string,
	dataDir: string,
	email: string,
): Promise<void> {
	const added = await runTollgateCli(dataDir, ["identity", "users", "add", email]);
	const token = new URLSearchParams(
		new URL(/set_password_url: (\S+)/.exec(added)?.[1] ?? "").hash.slice(1),
	).get("token");
	const registration = opaque.client.startRegistration({ password: BENCH_PASSWORD });
	const started = await postJson(`${base}/identity/password/start`, {
		token,
		registration_request: registration.registrationRequest,
	});
	const { registrationRecord } = opaque.client.finishRegistration({
		clientRegistrationState: registration.clientRegistrationState,
		registrationResponse: started.registration_response ?? "",
		password: BENCH_PASSWORD,
		keyStretching: CHEAP_KEY_STRETCHING,
	});
	const finished = await fetch(`${base}/identity/password/finish`, {
		method: "POST",
		headers: { "content-type": "application/json" },
		body: JSON.stringify({ token, registration_record: registrationRecord }),
	});
	if (finished.status !== 200) throw new Error(`set password: ${await finished.text()}`);
}

/** One OPAQUE login over HTTP (start + finish); the finish answer. */
export async function opaqueLogin(
	base: string,
	email: string,
	finishPath: string,
	extra: Record<string, string> = {},
	cookie = "",
): Promise<Record<string, string>> {
	const client = opaque.client.startLogin({ password: BENCH_PASSWORD });
	const started = await postJson(`${base}/identity/login/start`, {
		email,
		start_login_request: client.startLoginRequest,
	});
	const finished = opaque.client.finishLogin({
		clientLoginState: client.clientLoginState,
		loginResponse: started.login_response ?? "",
		password: BENCH_PASSWORD,
		keyStretching: CHEAP_KEY_STRETCHING,
	});
	const response = await fetch(`${base}${finishPath}`, {
		method: "POST",
		headers: { "content-type": "application/json", cookie },
		body: JSON.stringify({
			login_id: started.login_id,
			finish_login_request: finished?.finishLoginRequest,
			...extra,
		}),
	});
	return (await response.json()) as Record<string, string>;
}

/** A browser at the provider: its cookies, and redirects followed by hand until one leaves for the client. */
export class BenchBrowser {
	readonly #jar = new CookieJar();
	readonly #base: string;
	readonly #redirectUri: string;

	constructor(base: string, redirectUri: string) {
		this.#base = base;
		this.#redirectUri = redirectUri;
	}

	/** Follows `authorizationUrl` to the client's redirect, logging in as `email` if asked; the code. */
	async authorize(authorizationUrl: string, email: string): Promise<string> {
		let next = authorizationUrl;
		for (let hop = 0; hop < 10; hop += 1) {
			const response = await fetch(next, {
				redirect: "manual",
				headers: { cookie: this.#jar.header() },
			});
			this.#jar.store(response);
			const location = response.headers.get("location");
			if (location !== null) {
				const target = new URL(location, next);
				if (target.href.startsWith(this.#redirectUri)) {
					const code = target.searchParams.get("code");
					if (code === null) throw new Error(`no code: ${target.href}`);
					return code;
				}
				next = target.href;
				continue;
			}
			const interaction = (await response.json()) as { login_finish?: string };
			if (interaction.login_finish === undefined)
				throw new Error(`unexpected answer: ${JSON.stringify(interaction)}`);
			const finished = await opaqueLogin(
				this.#base,
				email,
				interaction.login_finish,
				{},
				this.#jar.header(),
			);
			next = finished.redirect_to ?? "";
		}
		throw new Error("the authorization did not come back to the client");
	}
}

export interface FormLoad {
	readonly requestsPerSecond: number;
	readonly p50Ms: number;
	readonly p99Ms: number;
}

const percentile = (sorted: readonly number[], fraction: number) =>
	sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? Number.NaN;

/**
 * Posts each body once, `concurrency` at a time, for at most `seconds`; every answer must be 200.
 * Single-use bodies (authorization codes) are why this is not wrk.
 */
export async function postForms(
	url: string,
	bodies: readonly string[],
	options: {
		readonly concurrency: number;
		readonly seconds: number;
		readonly authorization?: string;
	},
): Promise<FormLoad> {
	const latencies: number[] = [];
	let nextBody = 0;
	const started = performance.now();
	const until = started + options.seconds * 1_000;
	const worker = async () => {
		while (nextBody < bodies.length && performance.now() < until) {
			const body = bodies[nextBody] ?? "";
			nextBody += 1;
			const sent = performance.now();
			const response = await fetch(url, {
				method: "POST",
				headers: {
					"content-type": "application/x-www-form-urlencoded",
					...(options.authorization === undefined ? {} : { authorization: options.authorization }),
				},
				body,
			});
			const text = await response.text();
			if (response.status !== 200) throw new Error(`${url}: ${response.status} ${text}`);
			latencies.push(performance.now() - sent);
		}
	};
	await Promise.all(Array.from({ length: options.concurrency }, worker));
	const elapsedSeconds = (performance.now() - started) / 1_000;
	const sorted = latencies.sort((a, b) => a - b);
	return {
		requestsPerSecond: latencies.length / elapsedSeconds,
		p50Ms: percentile(sorted, 0.5),
		p99Ms: percentile(sorted, 0.99),
	};
}
