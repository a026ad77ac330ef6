/**
 * A connect session: a session of the sessions module (its cookie is the browser's opaque `data` cookie)
 * whose upstream tokens are in the vault, bound to one hub. Ending one deletes both.
 */
import { z } from "zod";
import type { SessionService } from "#modules/sessions";
import type { Hub, Hubs } from "./hubs.ts";
import type { TokenVault, UpstreamTokens } from "./token-vault.ts";

export interface ConnectSession {
	readonly id: string;
	readonly hub: Hub;
	/** The user's `sub` at the hub (GitLab: the user id). */
	readonly subject: string;
	/** The display name the id_token gave (`name`), or null. */
	readonly name: string | null;
}

const sessionData = z.object({
	connect: z.object({ hub: z.string(), subject: z.string(), name: z.string().nullable() }),
});

export class ConnectSessions {
	readonly #sessions: SessionService;
	readonly #vault: TokenVault;
	readonly #hubs: Hubs;

	constructor(sessions: SessionService, vault: TokenVault, hubs: Hubs) {
		this.#sessions = sessions;
		this.#vault = vault;
		this.#hubs = hubs;
	}

	/** The live connect session a `data` cookie names; null for none, a forged one or another kind. */
	async resolve(cookieValue: string): Promise<ConnectSession | null> {
		const view = await this.#sessions.resolve(cookieValue);
		if (view === null) return null;
		const parsed = sessionData.safeParse(view.data);
		if (!parsed.success) return null;
		const hub = this.#hubs.get(parsed.data.connect.hub);
		if (hub === undefined) return null;
		return {
			id: view.id,
			hub,
			subject: parsed.data.connect.subject,
			name: parsed.data.connect.name,
		};
	}

	/** Creates the session and stores its tokens; returns the `data` cookie's value. */
	async start(options: {
		hub: Hub;
		subject: string;
		name: string | null;
		tokens: UpstreamTokens;
		accessExpiresAtMs: number | null;
		nowMs: number;
	}): Promise<string> {
		const { session, cookieValue } = await this.#sessions.create({
			userId: `${options.hub.name}:${options.subject}`,
			data: {
				connect: { hub: options.hub.name, subject: options.subject, name: options.name },
			},
			groups: [],
		});
		try {
			await this.#vault.put({
				sessionId: session.id,
				hub: options.hub.name,
				subject: options.subject,
				tokens: options.tokens,
				accessExpiresAtMs: options.accessExpiresAtMs,
				nowMs: options.nowMs,
			});
		} catch (error) {
			// A session without its tokens would only ever answer "log in again": none is left behind.
			await this.#sessions.destroy(session.id);
			throw error;
		}
		return cookieValue;
	}

	/** Restarts the session's lifetime (a refresh shows the user is still there). */
	async touch(sessionId: string): Promise<void> {
		await this.#sessions.touch(sessionId);
	}

	async end(sessionId: string): Promise<void> {
		await this.#sessions.destroy(sessionId);
		await this.#vault.delete(sessionId);
	}

	/** Whether the sessions module still holds this session (the purge asks, for each vault row). */
	async exists(sessionId: string): Promise<boolean> {
		return (await this.#sessions.get(sessionId)) !== null;
	}
}
