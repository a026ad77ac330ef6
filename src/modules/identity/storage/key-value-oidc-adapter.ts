/**
 * oidc-provider's Adapter over the key-value store (embedded or Redis), for the short-lived models: codes,
 * interactions, pushed requests, DPoP replay records. Each lives under its own key with the model's TTL.
 * Consuming sets a marker with setIfAbsent, atomic on every engine: of concurrent requests spending one
 * code, exactly one succeeds, and a later find still sees it consumed (oidc-provider then revokes the grant).
 */
import type { Adapter, AdapterPayload } from "oidc-provider";
import type { Clock } from "#lib/clock";
import type { KeyValueStore } from "../../../storage/index.ts";

const PREFIX = "identity:oidc:";
/** How long a grant's index of short-lived members may outlive them; members expire on their own. */
const GRANT_INDEX_TTL_MS = 24 * 3_600_000;

export class KeyValueOidcAdapter implements Adapter {
	readonly #kv: KeyValueStore;
	readonly #model: string;
	readonly #clock: Clock;
	readonly #alreadyConsumed: () => Error;

	constructor(kv: KeyValueStore, model: string, clock: Clock, alreadyConsumed: () => Error) {
		this.#kv = kv;
		this.#model = model;
		this.#clock = clock;
		this.#alreadyConsumed = alreadyConsumed;
	}

	#key(id: string): string {
		return `${PREFIX}${this.#model}:${id}`;
	}

	#consumedKey(id: string): string {
		return `${PREFIX}${this.#model}:${id}:consumed`;
	}

	#uidKey(uid: string): string {
		return `${PREFIX}${this.#model}:uid:${uid}`;
	}

	#userCodeKey(userCode: string): string {
		return `${PREFIX}${this.#model}:user_code:${userCode}`;
	}

	async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
		const options = typeof expiresIn === "number" ? { ttlMs: expiresIn * 1_000 } : {};
		await this.#kv.set(this.#key(id), JSON.stringify(payload), options);
		if (payload.uid !== undefined) await this.#kv.set(this.#uidKey(payload.uid), id, options);
		if (payload.userCode !== undefined)
			await this.#kv.set(this.#userCodeKey(payload.userCode), id, options);
		if (payload.grantId !== undefined)
			await this.#kv.addToSet(`${PREFIX}grant:${payload.grantId}`, [this.#key(id)], {
				ttlMs: Math.max(GRANT_INDEX_TTL_MS, (expiresIn ?? 0) * 1_000),
			});
	}

	async find(id: string): Promise<AdapterPayload | undefined> {
		const stored = await this.#kv.get(this.#key(id));
		if (stored === null) return undefined;
		const payload = JSON.parse(stored) as AdapterPayload;
		const consumed = await this.#kv.get(this.#consumedKey(id));
		return consumed === null ? payload : { ...payload, consumed: Number(consumed) };
	}

	async #findVia(indexKey: string): Promise<AdapterPayload | undefined> {
		const id = await this.#kv.get(indexKey);
		return id === null ? undefined : this.find(id);
	}

	findByUid(uid: string): Promise<AdapterPayload | undefined> {
		return this.#findVia(this.#uidKey(uid));
	}

	findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
		return this.#findVia(this.#userCodeKey(userCode));
	}

	async consume(id: string): Promise<void> {
		const ttlMs = await this.#kv.ttlMs(this.#key(id));
		const isFirst = await this.#kv.setIfAbsent(
			this.#consumedKey(id),
			String(Math.floor(this.#clock.nowMs() / 1_000)),
			ttlMs === null || !Number.isFinite(ttlMs) ? {} : { ttlMs: Math.max(ttlMs, 1) },
		);
		if (!isFirst) throw this.#alreadyConsumed();
	}

	async destroy(id: string): Promise<void> {
		await this.#kv.delete(this.#key(id));
		await this.#kv.delete(this.#consumedKey(id));
	}

	async revokeByGrantId(grantId: string): Promise<void> {
		const indexKey = `${PREFIX}grant:${grantId}`;
		for (const key of await this.#kv.setMembers(indexKey)) {
			await this.#kv.delete(key);
			await this.#kv.delete(`${key}:consumed`);
		}
		await this.#kv.delete(indexKey);
	}
}
