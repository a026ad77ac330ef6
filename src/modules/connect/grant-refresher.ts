/**
 * Refreshing a session's upstream tokens (RFC 6749 §6), once per cluster however many requests need it at
 * the same moment. GitLab rotates refresh tokens and revokes the whole family when a used one comes back,
 * so two refreshes racing would end the user's login: callers that find the tokens they hold stale join
 * one refresh — in this process through a shared promise, across instances through a lock in the
 * key-value store (Redis in a cluster) — and whoever does not hold the lock waits for the vault's row to
 * change. A refresh whose tokens someone else already replaced is answered with theirs.
 */
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import * as oauth from "oauth4webapi";
import type { Logger } from "pino";
import type { Clock } from "#lib/clock";
import type { KeyValueStore } from "../../storage/index.ts";
import type { Hub } from "./hubs.ts";
import type { OpenedGrant, TokenVault } from "./token-vault.ts";

/** Longer than a refresh can take (the hub's timeout), so a live holder never loses its lock. */
const LOCK_MS = 60_000;
const POLL_MS = 25;
/** How long a waiter waits for another instance's refresh before giving up with 503. */
const WAIT_LIMIT_MS = 30_000;

export type RefreshOutcome =
	/** Tokens newer than the stale ones: refreshed now, here or on another instance. */
	| { readonly kind: "fresh"; readonly opened: OpenedGrant }
	/** The hub refused the refresh token (expired, revoked, reused): the session is over. */
	| { readonly kind: "rejected"; readonly reason: string }
	/** No grant any more (logged out meanwhile). */
	| { readonly kind: "gone" }
	| { readonly kind: "unavailable"; readonly cause: unknown };

export class GrantRefresher {
	readonly #kv: KeyValueStore;
	readonly #vault: TokenVault;
	readonly #clock: Clock;
	readonly #logger: Logger;
	readonly #timeoutMs: number;
	readonly #onRefreshed: (hub: string) => void;
	readonly #inFlight = new Map<string, Promise<RefreshOutcome>>();

	constructor(options: {
		kv: KeyValueStore;
		vault: TokenVault;
		clock: Clock;
		logger: Logger;
		timeoutMs: number;
		onRefreshed: (hub: string) => void;
	}) {
		this.#kv = options.kv;
		this.#vault = options.vault;
		this.#clock = options.clock;
		this.#logger = options.logger;
		this.#timeoutMs = options.timeoutMs;
		this.#onRefreshed = options.onRefreshed;
	}

	/** Tokens newer than `staleAccessToken` for the session, refreshing at the hub if nobody has. */
	refresh(sessionId: string, hub: Hub, staleAccessToken: string): Promise<RefreshOutcome> {
		const key = `${sessionId}\n${staleAccessToken}`;
		const joined = this.#inFlight.get(key);
		if (joined !== undefined) return joined;
		const started = this.#acrossInstances(sessionId, hub, staleAccessToken).finally(() => {
			this.#inFlight.delete(key);
		});
		this.#inFlight.set(key, started);
		return started;
	}

	async #acrossInstances(sessionId: string, hub: Hub, stale: string): Promise<RefreshOutcome> {
		const lockKey = `connect:refresh:${sessionId}`;
		const holder = randomUUID();
		const giveUpAt = performance.now() + WAIT_LIMIT_MS;
		for (;;) {
			const opened = await this.#vault.open(sessionId);
			if (opened === null) return { kind: "gone" };
			if (opened.tokens.accessToken !== stale) return { kind: "fresh", opened };
			if (await this.#kv.setIfAbsent(lockKey, holder, { ttlMs: LOCK_MS })) {
				try {
					return await this.#refreshHoldingLock(sessionId, hub, stale);
				} finally {
					await this.#kv.delete(lockKey);
				}
			}
			if (performance.now() > giveUpAt)
				return { kind: "unavailable", cause: new Error("another instance's refresh did not end") };
			await sleep(POLL_MS);
		}
	}

	async #refreshHoldingLock(sessionId: string, hub: Hub, stale: string): Promise<RefreshOutcome> {
		// Read again under the lock: the previous holder may have finished between our read and our lock.
		const opened = await this.#vault.open(sessionId);
		if (opened === null) return { kind: "gone" };
		if (opened.tokens.accessToken !== stale) return { kind: "fresh", opened };
		const { refreshToken } = opened.tokens;
		if (refreshToken === null) return { kind: "rejected", reason: "no refresh token was issued" };
		let result: oauth.TokenEndpointResponse;
		try {
			const metadata = await hub.oauth();
			const response = await oauth.refreshTokenGrantRequest(
				metadata.server,
				metadata.client,
				metadata.clientAuth,
				refreshToken,
				{ signal: AbortSignal.timeout(this.#timeoutMs), ...metadata.requestOptions },
			);
			result = await oauth.processRefreshTokenResponse(metadata.server, metadata.client, response);
		} catch (error) {
			if (error instanceof oauth.ResponseBodyError && error.status < 500)
				return { kind: "rejected", reason: error.error };
			return { kind: "unavailable", cause: error };
		}
		this.#onRefreshed(hub.name);
		const expiresAtMs =
			result.expires_in === undefined ? null : this.#clock.nowMs() + result.expires_in * 1_000;
		// Only a write outside the lock (a personal access token added) can change the row meanwhile: the
		// new tokens are merged into what it wrote, since the hub has already retired the old refresh token.
		let current: OpenedGrant | null = opened;
		while (current !== null) {
			const tokens = {
				accessToken: result.access_token,
				// GitLab rotates it; a provider that does not keeps the one it issued.
				refreshToken: result.refresh_token ?? refreshToken,
				personalAccessToken: current.tokens.personalAccessToken,
			};
			if (await this.#vault.replace(current, tokens, expiresAtMs)) break;
			this.#logger.info({ hub: hub.name }, "connect: a grant changed during its refresh");
			current = await this.#vault.open(sessionId);
		}
		const replaced = await this.#vault.open(sessionId);
		return replaced === null ? { kind: "gone" } : { kind: "fresh", opened: replaced };
	}
}
