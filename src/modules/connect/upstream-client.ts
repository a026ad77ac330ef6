/**
 * Calls to a hub's API on a user's behalf (the arcs module's and the pass-through's only way out): the
 * session's token from the vault, refreshed shortly before it expires and once more when the hub answers
 * 401; one keep-alive pool per hub with timeouts; retries of idempotent calls on 429/502/503/504 (and on a
 * refused or reset connection) after Retry-After or a doubling backoff. The host is always the hub's: a
 * call names only a path below its /api/v4.
 */
import type { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import { Counter, type Registry } from "prom-client";
import type { Dispatcher } from "undici";
import { AppError } from "#errors";
import type { Clock } from "#lib/clock";
import type { ConnectSession, ConnectSessions } from "./connect-sessions.ts";
import type { GrantRefresher } from "./grant-refresher.ts";
import type { Hub } from "./hubs.ts";
import type { OpenedGrant, TokenVault } from "./token-vault.ts";

export type UpstreamMethod = "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE";

export interface UpstreamCall {
	readonly method: UpstreamMethod;
	/**
	 * Below the hub's base path, already percent-encoded: `/api/v4/…`, or a repository's `/<namespace>.git/…`
	 * (Git LFS).
	 */
	readonly path: string;
	/** The query string without `?`, already encoded; empty for none. */
	readonly query?: string;
	readonly headers?: Readonly<Record<string, string>>;
	/** A stream is sent as it comes and cannot be sent twice: such a call is never retried. */
	readonly body?: string | Uint8Array | Readable | null;
	readonly signal?: AbortSignal;
	/**
	 * How the user's token is sent: `bearer` (the REST API; the default), `git-basic` (Basic `oauth2:<token>`,
	 * as Git over HTTPS and the LFS batch API take it), or `none` (the call carries its own, e.g. an LFS
	 * action's headers).
	 */
	readonly credential?: "bearer" | "git-basic" | "none";
}

export interface UpstreamAnswer {
	readonly status: number;
	readonly headers: Readonly<Record<string, string | string[] | undefined>>;
	readonly body: Dispatcher.ResponseData["body"];
}

/** The user's login at the hub is over (refresh refused, tokens gone): they must log in again. */
export class LoginEndedError extends AppError {
	constructor(reason: string) {
		super("unauthorized", {
			description: "Your DataHUB login has ended: please login again.",
			cause: reason,
		});
		this.name = "LoginEndedError";
	}
}

const IDEMPOTENT = new Set<UpstreamMethod>(["GET", "HEAD", "PUT", "DELETE"]);
const RETRIED_STATUSES = new Set([429, 502, 503, 504]);
const RETRIED_ERRORS = new Set(["ECONNREFUSED", "ECONNRESET", "UND_ERR_SOCKET"]);
const FIRST_BACKOFF_MS = 250;
const USER_AGENT = "Tollgate (connect)";

function isReplayable(body: UpstreamCall["body"]): boolean {
	return (
		body === undefined || body === null || typeof body === "string" || body instanceof Uint8Array
	);
}

/** The credential a grant's calls carry: the personal access token while one is set. */
export function tokenOf(opened: OpenedGrant): string {
	return opened.tokens.personalAccessToken ?? opened.tokens.accessToken;
}

function authorizationOf(
	credential: NonNullable<UpstreamCall["credential"]>,
	token: string | null,
): Record<string, string> {
	if (token === null || credential === "none") return {};
	if (credential === "bearer") return { authorization: `Bearer ${token}` };
	return { authorization: `Basic ${Buffer.from(`oauth2:${token}`).toString("base64")}` };
}

function headerText(value: string | string[] | undefined): string | undefined {
	return Array.isArray(value) ? value[0] : value;
}

/** Retry-After (RFC 9110 §10.2.3): delay seconds or an HTTP date; null when absent or unreadable. */
export function retryAfterMs(value: string | undefined, nowMs: number): number | null {
	if (value === undefined) return null;
	const text = value.trim();
	if (/^\d+$/.test(text)) return Number(text) * 1_000;
	const dateMs = Date.parse(text);
	return Number.isNaN(dateMs) ? null : Math.max(0, dateMs - nowMs);
}

function errorCode(error: unknown): string | undefined {
	if (typeof error !== "object" || error === null || !("code" in error)) return undefined;
	return typeof error.code === "string" ? error.code : undefined;
}

export interface UpstreamMetrics {
	readonly requests: Counter<"hub" | "status">;
	readonly refreshes: Counter<"hub">;
}

export function registerUpstreamMetrics(registry: Registry): UpstreamMetrics {
	const registers = [registry];
	return {
		requests: new Counter({
			name: "tollgate_connect_upstream_requests_total",
			help: "Calls to the hubs' APIs, by hub and status (0: no answer).",
			labelNames: ["hub", "status"],
			registers,
		}),
		refreshes: new Counter({
			name: "tollgate_connect_refreshes_total",
			help: "Token refreshes made at the hubs.",
			labelNames: ["hub"],
			registers,
		}),
	};
}

export class UpstreamClient {
	readonly #vault: TokenVault;
	readonly #sessions: ConnectSessions;
	readonly #refresher: GrantRefresher;
	readonly #clock: Clock;
	readonly #logger: Logger;
	readonly #metrics: UpstreamMetrics;
	readonly #retries: number;
	readonly #retryAfterMaxMs: number;
	readonly #refreshBeforeMs: number;
	readonly #timeoutMs: number;

	constructor(options: {
		vault: TokenVault;
		sessions: ConnectSessions;
		refresher: GrantRefresher;
		clock: Clock;
		logger: Logger;
		metrics: UpstreamMetrics;
		retries: number;
		retryAfterMaxSeconds: number;
		refreshBeforeExpirySeconds: number;
		timeoutMs: number;
	}) {
		this.#vault = options.vault;
		this.#sessions = options.sessions;
		this.#refresher = options.refresher;
		this.#clock = options.clock;
		this.#logger = options.logger;
		this.#metrics = options.metrics;
		this.#retries = options.retries;
		this.#retryAfterMaxMs = options.retryAfterMaxSeconds * 1_000;
		this.#refreshBeforeMs = options.refreshBeforeExpirySeconds * 1_000;
		this.#timeoutMs = options.timeoutMs;
	}

	/**
	 * A call with the session's credential.
	 * @throws LoginEndedError (401) when the login is over; AppError upstream_unavailable (504).
	 */
	async call(session: ConnectSession, call: UpstreamCall): Promise<UpstreamAnswer> {
		let opened = await this.#openGrant(session);
		const usesOAuthToken = opened.tokens.personalAccessToken === null;
		const expiresAtMs = opened.grant.accessExpiresAtMs;
		if (
			usesOAuthToken &&
			expiresAtMs !== null &&
			expiresAtMs - this.#clock.nowMs() <= this.#refreshBeforeMs
		)
			opened = await this.#refreshed(session, opened, { isNeeded: false });
		const answer = await this.send(session.hub, call, tokenOf(opened));
		if (answer.status !== 401 || !usesOAuthToken || !isReplayable(call.body)) return answer;
		await answer.body.dump();
		const refreshed = await this.#refreshed(session, opened, { isNeeded: true });
		return this.send(session.hub, call, tokenOf(refreshed));
	}

	/** A forced refresh (the user's "refresh session"); returns the new grant. */
	async refreshNow(session: ConnectSession): Promise<OpenedGrant> {
		return this.#refreshed(session, await this.#openGrant(session), { isNeeded: true });
	}

	async #openGrant(session: ConnectSession): Promise<OpenedGrant> {
		const opened = await this.#vault.open(session.id);
		if (opened !== null) return opened;
		await this.#sessions.end(session.id);
		throw new LoginEndedError("the session's tokens are gone or no configured key opens them");
	}

	/**
	 * Newer tokens than `opened`'s. When the refresh is only ahead of time (`isNeeded` false), a hub that
	 * cannot be reached leaves the current, still valid token in use.
	 */
	async #refreshed(
		session: ConnectSession,
		opened: OpenedGrant,
		{ isNeeded }: { isNeeded: boolean },
	): Promise<OpenedGrant> {
		const outcome = await this.#refresher.refresh(
			session.id,
			session.hub,
			opened.tokens.accessToken,
		);
		switch (outcome.kind) {
			case "fresh":
				return outcome.opened;
			case "rejected":
			case "gone":
				await this.#sessions.end(session.id);
				throw new LoginEndedError(
					outcome.kind === "gone" ? "the grant was deleted" : `refresh refused: ${outcome.reason}`,
				);
			case "unavailable":
				if (!isNeeded) return opened;
				throw new AppError("upstream_unavailable", { cause: outcome.cause });
		}
	}

	/**
	 * One call to the hub with a bearer token (or none), retried as the module header says.
	 * @throws AppError upstream_unavailable when the hub cannot be reached or does not answer in time.
	 */
	async send(hub: Hub, call: UpstreamCall, token: string | null): Promise<UpstreamAnswer> {
		const headers: Record<string, string> = {
			"user-agent": USER_AGENT,
			...call.headers,
			...authorizationOf(call.credential ?? "bearer", token),
		};
		const path = `${hub.apiBasePath}${call.path}${call.query ? `?${call.query}` : ""}`;
		const mayRetry = IDEMPOTENT.has(call.method) && isReplayable(call.body);
		for (let attempt = 0; ; attempt += 1) {
			const isLast = !mayRetry || attempt >= this.#retries;
			let answer: Dispatcher.ResponseData;
			try {
				answer = await hub.pool.request({
					method: call.method,
					path,
					headers,
					body: call.body ?? null,
					signal: call.signal,
					headersTimeout: this.#timeoutMs,
					bodyTimeout: this.#timeoutMs,
				});
			} catch (error) {
				this.#metrics.requests.inc({ hub: hub.name, status: "0" });
				const code = errorCode(error);
				if (!isLast && code !== undefined && RETRIED_ERRORS.has(code)) {
					await sleep(this.#backoffMs(attempt));
					continue;
				}
				if (call.signal?.aborted === true) throw error;
				this.#logger.warn({ hub: hub.name, code }, "connect: the hub did not answer");
				throw new AppError("upstream_unavailable", { cause: error });
			}
			this.#metrics.requests.inc({ hub: hub.name, status: String(answer.statusCode) });
			if (isLast || !RETRIED_STATUSES.has(answer.statusCode)) return this.#answerOf(answer);
			const waitMs =
				retryAfterMs(headerText(answer.headers["retry-after"]), Date.now()) ??
				this.#backoffMs(attempt);
			if (waitMs > this.#retryAfterMaxMs) return this.#answerOf(answer);
			await answer.body.dump();
			await sleep(waitMs);
		}
	}

	#backoffMs(attempt: number): number {
		return FIRST_BACKOFF_MS * 2 ** attempt + Math.floor(Math.random() * FIRST_BACKOFF_MS);
	}

	#answerOf(answer: Dispatcher.ResponseData): UpstreamAnswer {
		return { status: answer.statusCode, headers: answer.headers, body: answer.body };
	}
}
