/**
 * Google, as far as Session Pro sees it, on loopback and following the published REST shapes: the Play
 * Developer API (purchases.subscriptionsv2.get, purchases.subscriptions.acknowledge), a Pub/Sub
 * subscription (projects.subscriptions.pull / acknowledge) and the OIDC keys (JWKS) that Pub/Sub push
 * tokens are signed with. Requests must carry the service account's self-signed JWT for the right scope,
 * checked as Google does: signature, issuer and scope. Google's own client libraries talk to it.
 */
import { generateKeyPairSync, type KeyObject, randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { exportJWK, jwtVerify, SignJWT } from "jose";

const ANDROID_PUBLISHER_SCOPE = "https://www.googleapis.com/auth/androidpublisher";
const PUBSUB_SCOPE = "https://www.googleapis.com/auth/pubsub";
/** Pub/Sub's default ack deadline. */
const ACK_DEADLINE_MS = 10_000;

export interface SubscriptionState {
	state:
		| "SUBSCRIPTION_STATE_ACTIVE"
		| "SUBSCRIPTION_STATE_CANCELED"
		| "SUBSCRIPTION_STATE_IN_GRACE_PERIOD"
		| "SUBSCRIPTION_STATE_ON_HOLD"
		| "SUBSCRIPTION_STATE_EXPIRED"
		| "SUBSCRIPTION_STATE_PENDING";
	/** What the Android client passed to setObfuscatedAccountId; absent when it set none. */
	accountId?: string;
	basePlanId: string;
	orderId: string;
	expiryMs: number;
	autoRenewEnabled: boolean;
	acknowledged?: boolean;
	linkedPurchaseToken?: string;
}

interface PendingMessage {
	readonly messageId: string;
	readonly data: string;
	readonly publishTime: string;
	ackId: string | null;
	leasedUntilMs: number;
}

export interface FakeGoogle {
	readonly url: string;
	readonly packageName: string;
	readonly subscription: string;
	readonly serviceAccountEmail: string;
	/** The service-account key file, as the Cloud console downloads it. */
	readonly serviceAccountFile: string;
	readonly pushServiceAccount: string;
	/** Sets what subscriptionsv2.get answers for a token. */
	setSubscription(token: string, state: SubscriptionState): void;
	/** Makes subscriptionsv2.get fail with this HTTP status until cleared with null. */
	failSubscriptionReads(status: number | null): void;
	/** Runs `hook` (once) while the next subscriptionsv2.get is in flight, before it answers. */
	duringNextSubscriptionRead(hook: () => Promise<void>): void;
	/** The subscription resource a token has now, as the API shows it. */
	subscriptionResource(token: string): Record<string, unknown> | undefined;
	/** Tokens acknowledged through purchases.subscriptions.acknowledge, with their product id, in order. */
	readonly acknowledgements: { token: string; productId: string }[];
	/** How many times subscriptionsv2.get was called, per token. */
	readonly reads: Map<string, number>;
	/** Publishes an RTDN (the JSON Google puts in message.data) to the pull subscription. */
	publish(rtdn: object): string;
	/** Messages published and not acknowledged yet. */
	unacknowledged(): number;
	/** Lets every leased, unacknowledged message be delivered again now. */
	expireAckDeadlines(): void;
	/** Drops every message, as an operator seeking the subscription past them would. */
	discardMessages(): void;
	/** A push request body and its Authorization header, as Pub/Sub sends them. */
	pushRequest(
		rtdn: object,
		options?: { messageId?: string; audience?: string; signedBy?: "google" | "someone else" },
	): Promise<{ authorization: string; body: object }>;
	close(): Promise<void>;
}

function send(response: ServerResponse, status: number, body?: unknown): void {
	if (body === undefined) {
		response.writeHead(status).end();
		return;
	}
	response.writeHead(status, { "content-type": "application/json; charset=UTF-8" });
	response.end(JSON.stringify(body));
}

/** Google's error envelope (https://cloud.google.com/apis/design/errors). */
function sendError(response: ServerResponse, code: number, status: string, message: string): void {
	send(response, code, { error: { code, message, status } });
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
	const chunks: Buffer[] = [];
	for await (const chunk of request) chunks.push(chunk as Buffer);
	const text = Buffer.concat(chunks).toString("utf8");
	return text === "" ? {} : (JSON.parse(text) as Record<string, unknown>);
}

export async function startFakeGoogle(options: {
	readonly directory: string;
	readonly packageName?: string;
}): Promise<FakeGoogle> {
	const packageName = options.packageName ?? "network.loki.messenger";
	const subscription = "projects/session-pro/subscriptions/play-rtdn";
	const serviceAccountEmail = "pro-backend@session-pro.iam.gserviceaccount.com";
	const pushServiceAccount = "pubsub-push@session-pro.iam.gserviceaccount.com";
	const serviceAccount = generateKeyPairSync("rsa", { modulusLength: 2048 });
	const serviceAccountFile = join(options.directory, "service-account.json");
	writeFileSync(
		serviceAccountFile,
		JSON.stringify({
			type: "service_account",
			project_id: "session-pro",
			private_key_id: "fake-key-1",
			private_key: serviceAccount.privateKey.export({ type: "pkcs8", format: "pem" }),
			client_email: serviceAccountEmail,
			client_id: "1",
			token_uri: "https://oauth2.googleapis.com/token",
		}),
	);
	const oidcKey = generateKeyPairSync("rsa", { modulusLength: 2048 });
	const strangerKey = generateKeyPairSync("rsa", { modulusLength: 2048 });
	const oidcJwk = {
		...(await exportJWK(oidcKey.publicKey)),
		kid: "oidc-1",
		alg: "RS256",
		use: "sig",
	};

	const subscriptions = new Map<string, SubscriptionState>();
	const acknowledgements: { token: string; productId: string }[] = [];
	const reads = new Map<string, number>();
	const messages: PendingMessage[] = [];
	let readFailure: number | null = null;
	let readHook: (() => Promise<void>) | null = null;

	function resource(token: string): Record<string, unknown> | undefined {
		const state = subscriptions.get(token);
		if (state === undefined) return undefined;
		return {
			kind: "androidpublisher#subscriptionPurchaseV2",
			startTime: new Date(state.expiryMs - 30 * 86_400_000).toISOString(),
			regionCode: "AU",
			subscriptionState: state.state,
			latestOrderId: state.orderId,
			testPurchase: {},
			acknowledgementState: state.acknowledged
				? "ACKNOWLEDGEMENT_STATE_ACKNOWLEDGED"
				: "ACKNOWLEDGEMENT_STATE_PENDING",
			...(state.accountId === undefined
				? {}
				: { externalAccountIdentifiers: { obfuscatedExternalAccountId: state.accountId } }),
			...(state.linkedPurchaseToken === undefined
				? {}
				: { linkedPurchaseToken: state.linkedPurchaseToken }),
			lineItems: [
				{
					productId: "session_pro",
					expiryTime: new Date(state.expiryMs).toISOString(),
					autoRenewingPlan: {
						...(state.autoRenewEnabled ? { autoRenewEnabled: true } : {}),
						recurringPrice: { currencyCode: "AUD", units: "16", nanos: 990000000 },
					},
					offerDetails: { basePlanId: state.basePlanId, offerTags: [] },
					latestSuccessfulOrderId: state.orderId,
				},
			],
		};
	}

	async function authorized(
		request: IncomingMessage,
		response: ServerResponse,
		scope: string,
	): Promise<boolean> {
		const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? "")?.[1];
		try {
			if (token === undefined) throw new Error("no bearer token");
			const { payload } = await jwtVerify(token, serviceAccount.publicKey as KeyObject, {
				issuer: serviceAccountEmail,
				subject: serviceAccountEmail,
			});
			if (
				!String(payload.scope ?? "")
					.split(" ")
					.includes(scope)
			)
				throw new Error(`token lacks scope ${scope}`);
			return true;
		} catch (error) {
			sendError(response, 401, "UNAUTHENTICATED", (error as Error).message);
			return false;
		}
	}

	async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
		const url = new URL(request.url ?? "/", "http://fake");
		const path = decodeURIComponent(url.pathname);
		if (request.method === "GET" && path === "/oauth2/v3/certs") {
			send(response, 200, { keys: [oidcJwk] });
			return;
		}
		const publisherPrefix = `/androidpublisher/v3/applications/${packageName}/purchases/`;
		if (path.startsWith("/androidpublisher/")) {
			if (!(await authorized(request, response, ANDROID_PUBLISHER_SCOPE))) return;
			const read = new RegExp(`^${publisherPrefix}subscriptionsv2/tokens/([^/]+)$`).exec(path);
			if (request.method === "GET" && read?.[1] !== undefined) {
				const token = read[1];
				reads.set(token, (reads.get(token) ?? 0) + 1);
				const hook = readHook;
				readHook = null;
				if (hook !== null) await hook();
				if (readFailure !== null) {
					sendError(response, readFailure, "INTERNAL", "Internal error encountered.");
					return;
				}
				const found = resource(token);
				if (found === undefined)
					sendError(response, 404, "NOT_FOUND", "The purchase token was not found.");
				else send(response, 200, found);
				return;
			}
			const ack = new RegExp(
				`^${publisherPrefix}subscriptions/([^/]+)/tokens/([^/]+):acknowledge$`,
			).exec(path);
			if (request.method === "POST" && ack?.[1] !== undefined && ack[2] !== undefined) {
				await readJson(request);
				const state = subscriptions.get(ack[2]);
				if (state === undefined) {
					sendError(response, 404, "NOT_FOUND", "The purchase token was not found.");
				} else if (state.acknowledged) {
					sendError(response, 400, "FAILED_PRECONDITION", "The purchase is not acknowledgeable.");
				} else {
					state.acknowledged = true;
					acknowledgements.push({ token: ack[2], productId: ack[1] });
					send(response, 204);
				}
				return;
			}
			sendError(response, 404, "NOT_FOUND", `no such method ${request.method} ${path}`);
			return;
		}
		if (path.startsWith(`/v1/${subscription}:`)) {
			if (!(await authorized(request, response, PUBSUB_SCOPE))) return;
			const body = await readJson(request);
			const nowMs = Date.now();
			if (path.endsWith(":pull")) {
				const max = Number(body.maxMessages ?? 1);
				const delivered = messages
					.filter((message) => message.leasedUntilMs <= nowMs)
					.slice(0, max);
				for (const message of delivered) {
					message.ackId = randomUUID();
					message.leasedUntilMs = nowMs + ACK_DEADLINE_MS;
				}
				send(response, 200, {
					receivedMessages: delivered.map((message) => ({
						ackId: message.ackId,
						message: {
							data: message.data,
							messageId: message.messageId,
							publishTime: message.publishTime,
							attributes: {},
						},
					})),
				});
				return;
			}
			if (path.endsWith(":acknowledge")) {
				const ackIds = new Set(body.ackIds as string[]);
				for (let index = messages.length - 1; index >= 0; index--) {
					const message = messages[index];
					if (message?.ackId !== null && ackIds.has(message?.ackId ?? ""))
						messages.splice(index, 1);
				}
				send(response, 200, {});
				return;
			}
		}
		sendError(response, 404, "NOT_FOUND", `no such method ${request.method} ${path}`);
	}

	const server: Server = createServer((request, response) => {
		handle(request, response).catch((error: unknown) =>
			sendError(response, 500, "INTERNAL", (error as Error).message),
		);
	});
	await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
	const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
	let nextMessageId = 1_000_000;

	return {
		url,
		packageName,
		subscription,
		serviceAccountEmail,
		serviceAccountFile,
		pushServiceAccount,
		setSubscription: (token, state) => subscriptions.set(token, { ...state }),
		failSubscriptionReads: (status) => {
			readFailure = status;
		},
		duringNextSubscriptionRead: (hook) => {
			readHook = hook;
		},
		subscriptionResource: resource,
		acknowledgements,
		reads,
		publish(rtdn) {
			const messageId = String(nextMessageId++);
			messages.push({
				messageId,
				data: Buffer.from(JSON.stringify(rtdn)).toString("base64"),
				publishTime: new Date().toISOString(),
				ackId: null,
				leasedUntilMs: 0,
			});
			return messageId;
		},
		unacknowledged: () => messages.length,
		expireAckDeadlines() {
			for (const message of messages) message.leasedUntilMs = 0;
		},
		discardMessages() {
			messages.length = 0;
		},
		async pushRequest(rtdn, pushOptions = {}) {
			const messageId = pushOptions.messageId ?? String(nextMessageId++);
			const nowS = Math.floor(Date.now() / 1000);
			const key = pushOptions.signedBy === "someone else" ? strangerKey : oidcKey;
			const token = await new SignJWT({
				email: pushServiceAccount,
				email_verified: true,
			})
				.setProtectedHeader({ alg: "RS256", kid: "oidc-1", typ: "JWT" })
				.setIssuer("https://accounts.google.com")
				.setSubject("110000000000000000001")
				.setAudience(pushOptions.audience ?? `${url}/push`)
				.setIssuedAt(nowS)
				.setExpirationTime(nowS + 3600)
				.sign(key.privateKey);
			return {
				authorization: `Bearer ${token}`,
				body: {
					message: {
						attributes: {},
						data: Buffer.from(JSON.stringify(rtdn)).toString("base64"),
						messageId,
						message_id: messageId,
						publishTime: new Date().toISOString(),
						publish_time: new Date().toISOString(),
					},
					subscription: "projects/session-pro/subscriptions/play-rtdn-push",
				},
			};
		},
		close: () =>
			new Promise<void>((resolve) => {
				server.closeAllConnections();
				server.close(() => resolve());
			}),
	};
}
