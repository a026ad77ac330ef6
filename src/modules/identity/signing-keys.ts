/**
 * The provider's token signing keys: one per algorithm (EdDSA; ES256; RS256, OpenID Connect's default for
 * id_tokens), created on first start, private JWKs sealed at rest. Rotation makes a new key of each
 * algorithm the signer and keeps the old ones published until the longest token they signed has expired.
 */
import { generateKeyPairSync, type KeyObject, randomBytes } from "node:crypto";
import type { SecretsKey } from "./secrets-key.ts";

export const SIGNING_ALGORITHMS = ["EdDSA", "ES256", "RS256"] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

export interface StoredSigningKey {
	readonly kid: string;
	readonly alg: SigningAlgorithm;
	readonly sealedJwk: Uint8Array;
	readonly createdAtMs: number;
	readonly retiredAtMs: number | null;
	readonly dropAfterMs: number | null;
}

export interface SigningKeyStore {
	/** Newest first. */
	list(): Promise<StoredSigningKey[]>;
	insert(key: StoredSigningKey): Promise<void>;
	/** Retires every unretired key of `alg` but `keepKid`. */
	retireOthers(
		alg: SigningAlgorithm,
		keepKid: string,
		atMs: number,
		dropAfterMs: number,
	): Promise<number>;
	/** Deletes retired keys whose tokens have all expired; returns how many. */
	dropExpired(nowMs: number): Promise<number>;
}

/** A private JWK as oidc-provider's `jwks` takes it. */
export type PrivateJwk = Record<string, unknown> & { kid: string; alg: SigningAlgorithm };

function newKeyPair(alg: SigningAlgorithm): KeyObject {
	switch (alg) {
		case "EdDSA":
			return generateKeyPairSync("ed25519").privateKey;
		case "ES256":
			return generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
		case "RS256":
			return generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
	}
}

const sealName = (kid: string) => `signing_key:${kid}`;

function newStoredKey(
	alg: SigningAlgorithm,
	secretsKey: SecretsKey,
	nowMs: number,
): StoredSigningKey {
	const kid = randomBytes(12).toString("base64url");
	const jwk = { ...newKeyPair(alg).export({ format: "jwk" }), kid, alg, use: "sig" };
	return {
		kid,
		alg,
		sealedJwk: secretsKey.seal(sealName(kid), Buffer.from(JSON.stringify(jwk))),
		createdAtMs: nowMs,
		retiredAtMs: null,
		dropAfterMs: null,
	};
}

export class SigningKeys {
	readonly #store: SigningKeyStore;
	readonly #secretsKey: SecretsKey;

	constructor(store: SigningKeyStore, secretsKey: SecretsKey) {
		this.#store = store;
		this.#secretsKey = secretsKey;
	}

	/** Makes a key for every algorithm that has no signer yet (the first start). */
	async ensure(nowMs: number): Promise<void> {
		const keys = await this.#store.list();
		for (const alg of SIGNING_ALGORITHMS)
			if (!keys.some((key) => key.alg === alg && key.retiredAtMs === null))
				await this.#store.insert(newStoredKey(alg, this.#secretsKey, nowMs));
	}

	/** A new signer per algorithm; the old ones stay published for `keepPublishedMs`. */
	async rotate(nowMs: number, keepPublishedMs: number): Promise<readonly StoredSigningKey[]> {
		const created = [];
		for (const alg of SIGNING_ALGORITHMS) {
			const key = newStoredKey(alg, this.#secretsKey, nowMs);
			await this.#store.insert(key);
			await this.#store.retireOthers(alg, key.kid, nowMs, nowMs + keepPublishedMs);
			created.push(key);
		}
		return created;
	}

	dropExpired(nowMs: number): Promise<number> {
		return this.#store.dropExpired(nowMs);
	}

	/** Signers first (newest of each algorithm), then the retired keys still published. */
	async privateJwks(): Promise<PrivateJwk[]> {
		const keys = await this.#store.list();
		const ordered = [
			...keys.filter((key) => key.retiredAtMs === null),
			...keys.filter((key) => key.retiredAtMs !== null),
		];
		return ordered.map((key) => {
			const opened = this.#secretsKey.openStored(
				sealName(key.kid),
				key.sealedJwk,
				`signing key ${key.kid}`,
			);
			return JSON.parse(opened.toString("utf8")) as PrivateJwk;
		});
	}

	list(): Promise<StoredSigningKey[]> {
		return this.#store.list();
	}
}
