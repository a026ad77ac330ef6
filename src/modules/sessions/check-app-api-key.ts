/**
 * Apps call the sessions API with `Authorization: Bearer <key>`: one of `sessions.app_api_keys`, or a key
 * `tollgate sessions keys add` stored. Keys are compared as SHA-256 digests with timingSafeEqual: constant
 * time, whatever their lengths. A stored key is read on every call, so one removed stops working at once.
 */
import { timingSafeEqual } from "node:crypto";
import type { FastifyRequest } from "fastify";
import { AppError } from "#errors";
import { type AppApiKeyStore, appApiKeyIdOf, appApiKeySha256 } from "./app-api-key.ts";

/** `Bearer <token>`, the scheme matched without regard to case (RFC 9110 §11.1). */
const BEARER = /^bearer +(.+)$/i;

function refusal(): AppError {
	return new AppError("unauthorized", {
		description: "An app API key is required (Authorization: Bearer).",
	});
}

async function isStoredKey(
	storedKeys: AppApiKeyStore,
	token: string,
	presented: Buffer,
): Promise<boolean> {
	const id = appApiKeyIdOf(token);
	if (id === null) return false;
	// Found by its id, which is public (`keys list` prints it): only the digest comparison involves the secret.
	const stored = await storedKeys.findById(id);
	return (
		stored !== null &&
		stored.keySha256.length === presented.length &&
		timingSafeEqual(stored.keySha256, presented)
	);
}

export function appApiKeyCheck(
	configuredKeys: readonly string[],
	storedKeys: AppApiKeyStore,
): (request: FastifyRequest) => Promise<void> {
	const configured = configuredKeys.map(appApiKeySha256);
	return async function checkAppApiKey(request) {
		const header = request.headers.authorization;
		const token = header === undefined ? undefined : BEARER.exec(header)?.[1];
		if (token === undefined) throw refusal();
		const presented = appApiKeySha256(token);
		let isConfigured = false;
		// Every configured key is compared, so the time taken does not tell which key was close.
		for (const key of configured) isConfigured = timingSafeEqual(key, presented) || isConfigured;
		if (!isConfigured && !(await isStoredKey(storedKeys, token, presented))) throw refusal();
	};
}
