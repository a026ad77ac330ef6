/**
 * Fixed-window attempt counters in the key-value store, so that a limit holds across every instance:
 * login and set-password attempts per account and per client address. Keys carry a hash of the account's
 * e-mail, never the address itself.
 */
import { createHash } from "node:crypto";
import { AppError } from "#errors";
import type { KeyValueStore } from "../../storage/index.ts";

const PREFIX = "identity:rate:";

export interface Limit {
	readonly attempts: number;
	readonly windowMs: number;
}

/** 429, with the seconds until the window ends as Retry-After. */
function rateLimited(retryAfterSeconds: number): AppError {
	return new AppError("rate_limited", {
		description: `Too many attempts; retry in ${retryAfterSeconds} s.`,
		retryAfterSeconds,
	});
}

export const subjectOf = (text: string) => createHash("sha256").update(text).digest("base64url");

export class AttemptLimiter {
	readonly #kv: KeyValueStore;

	constructor(kv: KeyValueStore) {
		this.#kv = kv;
	}

	/** Counts one attempt against every bucket; throws rate_limited (429) when any is over its limit. */
	async attempt(
		buckets: readonly { readonly key: string; readonly limit: Limit }[],
	): Promise<void> {
		for (const { key, limit } of buckets) {
			const fullKey = `${PREFIX}${key}`;
			const count = await this.#kv.increment(fullKey, { ttlMs: limit.windowMs });
			if (count > limit.attempts) {
				let remainingMs = await this.#kv.ttlMs(fullKey);
				if (remainingMs === null || !Number.isFinite(remainingMs)) {
					await this.#kv.expire(fullKey, limit.windowMs);
					remainingMs = limit.windowMs;
				}
				throw rateLimited(Math.max(1, Math.ceil(remainingMs / 1_000)));
			}
		}
	}
}
