/**
 * Calls to Swate and the Swate Template Registry (specs/arcmanager.md §6.8). Swate's API is Fable.Remoting:
 * `/api/<Interface>/<function>`, the function's arguments POSTed as a JSON array, its result answered as
 * JSON; a function without arguments is also a GET, as is the registry's `/api/v1/templates`. Every call
 * has the configured timeout (the original had none on some): no answer in time, or none at all, is
 * upstream_unavailable (504); an error status or a body that is not JSON is upstream_error (502).
 */
import { AppError } from "#errors";

/** What the user is told when a call fails. */
export interface FailureText {
	/** The service did not answer in time or could not be reached. */
	readonly unavailable: string;
	/** It answered an error or something unreadable. */
	readonly failed: string;
}

/** How much of a failed answer goes into the log. */
const LOGGED_BODY_CHARS = 500;

export class SwateClient {
	readonly #timeoutMs: number;

	constructor(timeoutMs: number) {
		this.#timeoutMs = timeoutMs;
	}

	/** A Fable.Remoting function called with `args`. @throws AppError upstream_unavailable, upstream_error */
	invoke(url: string, args: readonly unknown[], failure: FailureText): Promise<unknown> {
		return this.#send(
			url,
			{
				method: "POST",
				body: JSON.stringify(args),
				headers: { "content-type": "application/json" },
			},
			failure,
		);
	}

	/** A GET answered with JSON. @throws AppError upstream_unavailable, upstream_error */
	read(url: string, failure: FailureText): Promise<unknown> {
		return this.#send(url, { method: "GET" }, failure);
	}

	async #send(url: string, init: RequestInit, failure: FailureText): Promise<unknown> {
		let status: number;
		let text: string;
		try {
			// The timeout covers the body too: a service that stalls mid-answer is as unavailable.
			const response = await fetch(url, {
				...init,
				headers: { accept: "application/json", ...init.headers },
				signal: AbortSignal.timeout(this.#timeoutMs),
			});
			status = response.status;
			text = await response.text();
		} catch (error) {
			throw new AppError("upstream_unavailable", {
				description: failure.unavailable,
				cause: { url, error },
			});
		}
		const cause = { url, status, body: text.slice(0, LOGGED_BODY_CHARS) };
		if (status < 200 || status > 299)
			throw new AppError("upstream_error", { description: failure.failed, cause });
		try {
			return JSON.parse(text);
		} catch {
			throw new AppError("upstream_error", { description: failure.failed, cause });
		}
	}
}
