/**
 * The ceiling of an auth_request check in Node: raw node:http that finds the v1 cookie, checks its
 * HMAC-SHA256 tag and asks Redis one SISMEMBER, then answers 204 or 401/403 with no body: what
 * GET /edge/check does for a member, without framework, logs or metrics. Arguments after the port:
 * `<redis URL> <secret> <key prefix> <cookie name>`.
 */
import { createHash, createHmac, createSecretKey, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import { Redis } from "ioredis";
import { listenAndAnnounce } from "./announce.ts";

const [, , , redisUrl = "", secret = "", keyPrefix = "", cookieName = ""] = process.argv;
const redis = new Redis(redisUrl);
const key = createSecretKey(Buffer.from(secret, "utf8"));
const cookiePrefix = `${cookieName}=`;

function sessionIdOf(cookieHeader: string | undefined): string | null {
	const start = cookieHeader?.indexOf(cookiePrefix) ?? -1;
	if (cookieHeader === undefined || start < 0) return null;
	const value = cookieHeader.slice(start + cookiePrefix.length, start + cookiePrefix.length + 90);
	const id = value.slice(3, 46);
	const tag = Buffer.from(value.slice(47));
	const expected = Buffer.from(createHmac("sha256", key).update(`v1.${id}`).digest("base64url"));
	if (tag.length !== expected.length || !timingSafeEqual(tag, expected)) return null;
	return createHash("sha256").update(id).digest("base64url");
}

const server = createServer((request, response) => {
	const sessionId = sessionIdOf(request.headers.cookie);
	const group = new URL(request.url ?? "/", "http://edge").searchParams.get("group") ?? "";
	if (sessionId === null) {
		response.writeHead(401).end();
		return;
	}
	redis.sismember(`${keyPrefix}:groups:${sessionId}`, group).then(
		(isMember) => response.writeHead(isMember === 1 ? 204 : 403).end(),
		() => response.writeHead(503).end(),
	);
});
listenAndAnnounce(server);
