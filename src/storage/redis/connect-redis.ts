/**
 * One way to open Redis for every store: the offline queue is off, so while Redis is down a command fails
 * at once (service_unavailable) instead of piling up, and ioredis keeps reconnecting in the background.
 */
import { Redis } from "ioredis";
import { AppError } from "#errors";

export interface RedisConnectOptions {
	readonly url: string;
	/** Prepended to every key by ioredis; omit where other programs read the keys (the session edge layout). */
	readonly keyPrefix?: string;
	/** How long to wait for the first connection before returning anyway. */
	readonly connectTimeoutMs?: number;
}

export async function connectRedis(options: RedisConnectOptions): Promise<Redis> {
	const connectTimeoutMs = options.connectTimeoutMs ?? 2_000;
	const redis = new Redis(options.url, {
		...(options.keyPrefix === undefined ? {} : { keyPrefix: options.keyPrefix }),
		enableOfflineQueue: false,
		enableAutoPipelining: true,
		maxRetriesPerRequest: 1,
		connectTimeout: connectTimeoutMs,
		retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
	});
	// Connection errors surface through commands and /readyz; without a listener ioredis would print them.
	redis.on("error", () => {});
	await new Promise<void>((resolve) => {
		const timer = setTimeout(resolve, connectTimeoutMs);
		redis.once("ready", () => {
			clearTimeout(timer);
			resolve();
		});
	});
	return redis;
}

/** A Redis failure that is not Redis refusing the command means Redis could not be reached. */
export function isReplyError(error: unknown): error is Error {
	return error instanceof Error && error.name === "ReplyError";
}

export function unavailable(error: unknown): AppError {
	return new AppError("service_unavailable", { cause: error });
}

export async function closeRedis(redis: Redis): Promise<void> {
	await redis.quit().catch(() => redis.disconnect());
}
