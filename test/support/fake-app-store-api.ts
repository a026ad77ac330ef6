/**
 * The App Store Server API's notification history (POST /inApps/v1/notifications/history), on loopback
 * and in Apple's published shapes: requests must carry an ES256 JWT made with the configured App Store
 * Connect key (kid, iss = issuer id, aud appstoreconnect-v1, bid = bundle id), results come a page at a
 * time with an opaque paginationToken.
 */
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { jwtVerify } from "jose";

export interface FakeAppStoreApi {
	readonly url: string;
	readonly keyFile: string;
	readonly keyId: string;
	readonly issuerId: string;
	/** Signed notifications Apple failed to deliver, as the history lists them. */
	readonly failedNotifications: string[];
	/** Every request body, in order. */
	readonly requests: Record<string, unknown>[];
	close(): Promise<void>;
}

const PAGE_SIZE = 2;

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
	const chunks: Buffer[] = [];
	for await (const chunk of request) chunks.push(chunk as Buffer);
	return JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as Record<string, unknown>;
}

function send(response: ServerResponse, status: number, body: object): void {
	response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

export async function startFakeAppStoreApi(options: {
	readonly directory: string;
	readonly bundleId: string;
}): Promise<FakeAppStoreApi> {
	const key = generateKeyPairSync("ec", { namedCurve: "P-256" });
	const keyFile = join(options.directory, "SubscriptionKey_FAKE123456.p8");
	writeFileSync(keyFile, key.privateKey.export({ type: "pkcs8", format: "pem" }));
	const keyId = "FAKE123456";
	const issuerId = randomUUID();
	const failedNotifications: string[] = [];
	const requests: Record<string, unknown>[] = [];
	const pages = new Map<string, number>();

	async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
		const url = new URL(request.url ?? "/", "http://fake");
		if (request.method !== "POST" || url.pathname !== "/inApps/v1/notifications/history") {
			send(response, 404, { errorCode: 4040000, errorMessage: "Not found." });
			return;
		}
		const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? "")?.[1] ?? "";
		try {
			const { protectedHeader } = await jwtVerify(token, key.publicKey, {
				issuer: issuerId,
				audience: "appstoreconnect-v1",
				algorithms: ["ES256"],
				requiredClaims: ["bid"],
			});
			if (protectedHeader.kid !== keyId) throw new Error("unknown key id");
		} catch {
			response.writeHead(401).end("Unauthenticated");
			return;
		}
		const body = await readJson(request);
		requests.push(body);
		const offset = pages.get(url.searchParams.get("paginationToken") ?? "") ?? 0;
		const next = offset + PAGE_SIZE;
		const hasMore = next < failedNotifications.length;
		const paginationToken = randomUUID();
		if (hasMore) pages.set(paginationToken, next);
		send(response, 200, {
			notificationHistory: failedNotifications
				.slice(offset, next)
				.map((signedPayload) => ({ signedPayload, sendAttempts: [] })),
			hasMore,
			paginationToken,
		});
	}

	const server: Server = createServer((request, response) => {
		handle(request, response).catch(() => send(response, 500, { errorCode: 5000000 }));
	});
	await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
	return {
		url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
		keyFile,
		keyId,
		issuerId,
		failedNotifications,
		requests,
		close: () =>
			new Promise<void>((resolve) => {
				server.closeAllConnections();
				server.close(() => resolve());
			}),
	};
}
