/**
 * The service's long-term Ed25519 key and the X25519 key derived from it (onion requests). It comes
 * from, in order: dev mode (seed 32 × 0xCD, never outside dev), `keys.ed25519_file`, or the database,
 * where the first instance to start creates it and every later one reads the same row.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { Logger } from "pino";
import type { FoundationConfig } from "#config";
import type { Clock } from "#lib/clock";
import {
	type Ed25519KeyPair,
	ed25519FromSeed,
	SEED_BYTES,
	type X25519KeyPair,
	x25519FromEd25519Seed,
	x25519FromSecret,
} from "#lib/ed25519";
import type { SecretStore } from "../storage/index.ts";

export const DEV_SEED: Uint8Array = new Uint8Array(SEED_BYTES).fill(0xcd);
const DATABASE_KEY_NAME = "service_ed25519_seed";

export type ServiceKeySource = "dev" | "file" | "database";

export interface ServiceKeys {
	readonly ed25519: Ed25519KeyPair;
	readonly x25519: X25519KeyPair;
	/** The older X25519-only key some clients still encrypt onion requests to, when configured. */
	readonly legacyX25519?: X25519KeyPair;
	readonly source: ServiceKeySource;
}

export function serviceKeysFromSeed(seed: Uint8Array, source: ServiceKeySource): ServiceKeys {
	return { ed25519: ed25519FromSeed(seed), x25519: x25519FromEd25519Seed(seed), source };
}

/**
 * Reads the key file formats the Session servers write: 64 raw bytes (seed ‖ public key) or their 128
 * hex characters, with or without a trailing newline; a bare 32-byte seed (raw or hex) is accepted too.
 */
export function parseEd25519KeyFile(content: Buffer, path: string): Uint8Array {
	const text = content.toString("latin1").trim();
	let bytes: Uint8Array = content;
	if (/^[0-9a-fA-F]+$/.test(text) && (text.length === 128 || text.length === 64)) {
		bytes = Buffer.from(text, "hex");
	}
	if (bytes.length !== 64 && bytes.length !== SEED_BYTES) {
		throw new Error(
			`key file ${path}: expected 64 bytes (seed ‖ public key) or 128 hex characters`,
		);
	}
	const seed = bytes.subarray(0, SEED_BYTES);
	if (bytes.length === 64) {
		const storedPublicKey = Buffer.from(bytes.subarray(SEED_BYTES));
		if (!storedPublicKey.equals(ed25519FromSeed(seed).publicKey)) {
			throw new Error(`key file ${path}: the public key does not belong to the seed`);
		}
	}
	return Uint8Array.from(seed);
}

async function seedFromFile(path: string, logger: Logger): Promise<Uint8Array> {
	try {
		return parseEd25519KeyFile(await readFile(path), path);
	} catch (error) {
		if (!(error instanceof Error && "code" in error && error.code === "ENOENT")) throw error;
	}
	const seed = randomBytes(SEED_BYTES);
	const keyPair = ed25519FromSeed(seed);
	await mkdir(dirname(path), { recursive: true });
	// "wx" fails if another process created the file meanwhile; its key then wins on the next read.
	await writeFile(path, `${Buffer.concat([seed, keyPair.publicKey]).toString("hex")}\n`, {
		flag: "wx",
		mode: 0o600,
	}).catch(async (error: unknown) => {
		if (!(error instanceof Error && "code" in error && error.code === "EEXIST")) throw error;
	});
	logger.info({ path }, "created a new service key file");
	return parseEd25519KeyFile(await readFile(path), path);
}

export interface LoadServiceKeysOptions {
	readonly isDev: boolean;
	readonly keyFile: string | undefined;
	readonly legacyX25519File?: string | undefined;
	readonly secrets: SecretStore;
	readonly clock: Clock;
	readonly logger: Logger;
}

/** The Session file server's `key_x25519`: 32 raw bytes. */
async function legacyX25519From(path: string): Promise<X25519KeyPair> {
	const secret = await readFile(path);
	if (secret.length !== 32)
		throw new Error(`key file ${path}: expected 32 raw bytes (an X25519 secret)`);
	return x25519FromSecret(secret);
}

export async function loadServiceKeys(options: LoadServiceKeysOptions): Promise<ServiceKeys> {
	const keys = await loadEd25519Keys(options);
	if (options.legacyX25519File === undefined) return keys;
	return { ...keys, legacyX25519: await legacyX25519From(options.legacyX25519File) };
}

async function loadEd25519Keys(options: LoadServiceKeysOptions): Promise<ServiceKeys> {
	if (options.isDev) {
		options.logger.warn(
			"dev mode: using the public dev key (seed 32 × 0xCD); never run dev mode in production",
		);
		return serviceKeysFromSeed(DEV_SEED, "dev");
	}
	if (options.keyFile !== undefined) {
		return serviceKeysFromSeed(await seedFromFile(options.keyFile, options.logger), "file");
	}
	const { secret, isNew } = await options.secrets.getOrCreate(
		DATABASE_KEY_NAME,
		options.clock.nowMs(),
	);
	if (isNew) options.logger.info("created the service key, kept in the database");
	return serviceKeysFromSeed(secret, "database");
}

/** The keys `serve` uses: from the config's dev flag and key files, else the database. */
export function loadConfiguredServiceKeys(
	config: FoundationConfig,
	secrets: SecretStore,
	clock: Clock,
	logger: Logger,
): Promise<ServiceKeys> {
	return loadServiceKeys({
		isDev: config.dev,
		keyFile: config.keys.ed25519_file,
		legacyX25519File: config.keys.x25519_legacy_file,
		secrets,
		clock,
		logger,
	});
}
