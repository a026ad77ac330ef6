/**
 * Google's own client libraries, pointed at Google or (in tests) at a loopback fake by configured URLs:
 * @googleapis/androidpublisher for the Play Developer API and @google-cloud/pubsub's REST transport for
 * pulling. Both authenticate as the service account with self-signed JWTs (no token endpoint round trip).
 */
import { readFileSync } from "node:fs";
import { v1 } from "@google-cloud/pubsub";
import { androidpublisher } from "@googleapis/androidpublisher";
import { JWT } from "google-auth-library";
import { z } from "zod";
import {
	GOOGLE_API_TIMEOUT_MS,
	type GooglePlayApi,
	type PubSubSubscription,
	type PulledMessage,
} from "./google-play.ts";

const ANDROID_PUBLISHER_SCOPE = "https://www.googleapis.com/auth/androidpublisher";
const PUBSUB_SCOPE = "https://www.googleapis.com/auth/pubsub";

const serviceAccountSchema = z.object({
	client_email: z.string().min(1),
	private_key: z.string().min(1),
});

export interface ServiceAccount {
	readonly email: string;
	readonly privateKey: string;
}

/** Reads a service-account key file as the Google Cloud console downloads it. */
export function readServiceAccount(path: string): ServiceAccount {
	const parsed = serviceAccountSchema.safeParse(JSON.parse(readFileSync(path, "utf8")));
	if (!parsed.success)
		throw new Error(`${path}: not a service-account key (client_email and private_key required)`);
	return { email: parsed.data.client_email, privateKey: parsed.data.private_key };
}

/** Each request carries a JWT the service account signs itself, as Google recommends for its APIs. */
function selfSignedJwt(account: ServiceAccount, scope: string): JWT {
	const jwt = new JWT({ email: account.email, key: account.privateKey, scopes: [scope] });
	jwt.useJWTAccessWithScope = true;
	return jwt;
}

export function playDeveloperApi(options: {
	readonly account: ServiceAccount;
	readonly packageName: string;
	readonly rootUrl: string;
}): GooglePlayApi {
	const client = androidpublisher({
		version: "v3",
		rootUrl: options.rootUrl,
		timeout: GOOGLE_API_TIMEOUT_MS,
		// The reconcile queue retries with its own backoff; a retry inside one drain only stalls it.
		retry: false,
		auth: selfSignedJwt(options.account, ANDROID_PUBLISHER_SCOPE),
	});
	const packageName = options.packageName;
	return {
		subscription: async (token) =>
			(await client.purchases.subscriptionsv2.get({ packageName, token })).data,
		acknowledge: async (subscriptionId, token) => {
			await client.purchases.subscriptions.acknowledge({
				packageName,
				subscriptionId,
				token,
				requestBody: {},
			});
		},
	};
}

export function pubSubPull(options: {
	readonly account: ServiceAccount;
	/** projects/<project>/subscriptions/<name> */
	readonly subscription: string;
	readonly endpoint: string;
}): PubSubSubscription & { close(): Promise<void> } {
	const endpoint = new URL(options.endpoint);
	const client = new v1.SubscriberClient({
		fallback: true,
		apiEndpoint: endpoint.hostname,
		port: Number(endpoint.port || (endpoint.protocol === "http:" ? 80 : 443)),
		protocol: endpoint.protocol.replace(":", ""),
		authClient: selfSignedJwt(options.account, PUBSUB_SCOPE),
	});
	const subscription = options.subscription;
	return {
		pull: async (maxMessages) => {
			const [response] = await client.pull(
				{ subscription, maxMessages },
				{ timeout: GOOGLE_API_TIMEOUT_MS },
			);
			const messages: PulledMessage[] = [];
			for (const received of response.receivedMessages ?? []) {
				const { ackId, message } = received;
				if (!ackId || !message?.messageId) continue;
				messages.push({
					ackId,
					messageId: message.messageId,
					data: Buffer.from(message.data ?? new Uint8Array()),
				});
			}
			return messages;
		},
		acknowledge: async (ackIds) => {
			await client.acknowledge({ subscription, ackIds: [...ackIds] });
		},
		close: () => client.close(),
	};
}
