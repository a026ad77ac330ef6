/** The secret that signs session cookies: configured, the public dev one, or one made once and stored. */
import type { SecretStore } from "../../storage/index.ts";
import type { SessionsConfig } from "./config.ts";

/** Public, so never a secret: used only when `dev = true`. */
export const DEV_SESSIONS_SECRET = "tollgate-dev-sessions-secret";
const STORED_SECRET_NAME = "sessions_v1_secret";

/** `sessions.secret` when set; else the public dev secret in dev mode; else one kept in the database. */
export async function resolveSessionsSecret(
	section: SessionsConfig,
	isDev: boolean,
	secrets: SecretStore,
	nowMs: number,
): Promise<string> {
	if (section.secret !== undefined) return section.secret;
	if (isDev) return DEV_SESSIONS_SECRET;
	const { secret } = await secrets.getOrCreate(STORED_SECRET_NAME, nowMs);
	return Buffer.from(secret).toString("base64url");
}
