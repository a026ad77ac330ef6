/**
 * Apps call the sessions API with `Authorization: Bearer <key>`, one of `sessions.app_api_keys`.
 * Keys are compared as SHA-256 digests with timingSafeEqual: constant time, whatever their lengths.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyRequest } from "fastify";
import { AppError } from "#errors";

const digest = (key: string) => createHash("sha256").update(key).digest();

/** `Bearer <token>`, the scheme matched without regard to case (RFC 9110 §11.1). */
const BEARER = /^bearer +(.+)$/i;

export function appApiKeyCheck(
	appApiKeys: readonly string[],
): (request: FastifyRequest) => Promise<void> {
	const allowed = appApiKeys.map(digest);
	return async function checkAppApiKey(request) {
		const header = request.headers.authorization;
		const token = header === undefined ? undefined : BEARER.exec(header)?.[1];
		const presented = token === undefined ? undefined : digest(token);
		let isAllowed = false;
		// Every key is compared, so the time taken does not tell which key was close.
		for (const key of allowed)
			isAllowed = (presented !== undefined && timingSafeEqual(key, presented)) || isAllowed;
		if (!isAllowed)
			throw new AppError("unauthorized", {
				description: "An app API key is required (Authorization: Bearer).",
			});
	};
}
