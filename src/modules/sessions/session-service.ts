/**
 * Session lifecycle: create, resolve a cookie, read, update, touch (sliding TTL), regenerate (new id,
 * same data, old id dead at once), destroy, and the per-user views. The stored document is the session's
 * JSON object, as flask-resty-shared-session stores `dict(session)`, with Tollgate's `user_id` and
 * `groups` inside it so Flask apps sharing the store see them too.
 */
import type { CookieCodec } from "./edge-contract.ts";
import type { SessionStore, StoredSession } from "./session-store.ts";

export interface SessionView {
	readonly id: string;
	readonly user_id: string | null;
	readonly data: Record<string, unknown>;
	readonly groups: string[];
	readonly expires_in_seconds: number;
}

export interface IssuedSession {
	readonly session: SessionView;
	readonly cookieValue: string;
}

export type EdgeDecision = "allowed" | "no_session" | "not_member";

const RESERVED_KEYS = new Set(["user_id", "groups"]);

function isRecord(value: unknown): value is Record<string, unknown> {
	return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A document Flask could not have written (or not JSON at all) reads as an empty session, as in Flask. */
function parseDocument(dataJson: string): Record<string, unknown> {
	try {
		const parsed: unknown = JSON.parse(dataJson);
		return isRecord(parsed) ? parsed : {};
	} catch {
		return {};
	}
}

function viewOf(id: string, stored: StoredSession): SessionView {
	const document = parseDocument(stored.dataJson);
	const data = Object.fromEntries(
		Object.entries(document).filter(([key]) => !RESERVED_KEYS.has(key)),
	);
	return {
		id,
		user_id: typeof document.user_id === "string" ? document.user_id : null,
		data,
		groups: [...stored.groups].sort(),
		expires_in_seconds: stored.ttlSeconds,
	};
}

export interface SessionContent {
	readonly userId: string | null;
	readonly data: Record<string, unknown>;
	readonly groups: readonly string[];
}

export class SessionService {
	readonly #codec: CookieCodec;
	readonly #store: SessionStore;
	readonly #ttlSeconds: number;

	constructor(codec: CookieCodec, store: SessionStore, ttlSeconds: number) {
		this.#codec = codec;
		this.#store = store;
		this.#ttlSeconds = ttlSeconds;
	}

	async #write(
		sessionId: string,
		storedSignature: string | null,
		content: SessionContent,
	): Promise<SessionView> {
		const groups = [...new Set(content.groups)].sort();
		const document = {
			...content.data,
			...(content.userId === null ? {} : { user_id: content.userId }),
			groups,
		};
		await this.#store.save({
			sessionId,
			storedSignature,
			dataJson: JSON.stringify(document),
			groups,
			userId: content.userId,
			ttlSeconds: this.#ttlSeconds,
		});
		return {
			id: sessionId,
			user_id: content.userId,
			data: { ...content.data },
			groups,
			expires_in_seconds: this.#ttlSeconds,
		};
	}

	async create(content: SessionContent): Promise<IssuedSession> {
		const cookie = this.#codec.issue();
		const session = await this.#write(cookie.sessionId, cookie.storedSignature, content);
		return { session, cookieValue: cookie.value };
	}

	/** The live session a cookie names, or null for a missing, forged or expired one. */
	async resolve(cookieValue: string): Promise<SessionView | null> {
		const cookie = this.#codec.verify(cookieValue);
		if (cookie === null) return null;
		const { isAlive } = await this.#store.check(cookie.sessionId, cookie.storedSignature, null);
		return isAlive ? this.get(cookie.sessionId) : null;
	}

	async get(sessionId: string): Promise<SessionView | null> {
		const stored = await this.#store.load(sessionId);
		return stored === null ? null : viewOf(sessionId, stored);
	}

	/** Replaces data and/or groups (the other is kept); the TTL starts over, as every Flask save does. */
	async update(
		sessionId: string,
		change: { data?: Record<string, unknown>; groups?: readonly string[] },
	): Promise<SessionView | null> {
		const stored = await this.#store.load(sessionId);
		if (stored === null) return null;
		const current = viewOf(sessionId, stored);
		return this.#write(sessionId, this.#codec.storedSignatureFor(sessionId), {
			userId: current.user_id,
			data: change.data ?? current.data,
			groups: change.groups ?? current.groups,
		});
	}

	async touch(sessionId: string): Promise<SessionView | null> {
		return (await this.#store.touch(sessionId, this.#ttlSeconds)) ? this.get(sessionId) : null;
	}

	/** New id and cookie for the same content; the old cookie stops working at once (session fixation). */
	async regenerate(sessionId: string): Promise<IssuedSession | null> {
		const current = await this.get(sessionId);
		if (current === null) return null;
		const issued = await this.create({
			userId: current.user_id,
			data: current.data,
			groups: current.groups,
		});
		await this.#store.destroy(sessionId, current.user_id);
		return issued;
	}

	async destroy(sessionId: string): Promise<boolean> {
		const current = await this.get(sessionId);
		return this.#store.destroy(sessionId, current?.user_id ?? null);
	}

	async listForUser(userId: string): Promise<SessionView[]> {
		const sessions = await Promise.all(
			(await this.#store.listUserSessions(userId)).map((id) => this.get(id)),
		);
		return sessions.filter((session) => session !== null);
	}

	async destroyAllForUser(userId: string): Promise<number> {
		const sessionIds = await this.#store.listUserSessions(userId);
		const destroyed = await Promise.all(
			sessionIds.map((sessionId) => this.#store.destroy(sessionId, userId)),
		);
		return destroyed.filter(Boolean).length;
	}

	/** The edge's question: is this cookie a live session, and (when asked) is it a member of `group`? */
	async checkEdge(cookieValue: string, group: string | null): Promise<EdgeDecision> {
		const cookie = this.#codec.verify(cookieValue);
		if (cookie === null) return "no_session";
		const { isAlive, isMember } = await this.#store.check(
			cookie.sessionId,
			cookie.storedSignature,
			group,
		);
		if (!isAlive) return "no_session";
		return group === null || isMember ? "allowed" : "not_member";
	}
}
