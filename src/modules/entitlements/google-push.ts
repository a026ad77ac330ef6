/**
 * Pub/Sub push delivery: Pub/Sub POSTs each message with an OIDC token it signs as the push subscription's
 * service account (https://cloud.google.com/pubsub/docs/authenticate-push-subscriptions). The token is
 * checked against Google's published keys, the configured audience and that account before anything is
 * read; any 2xx answer acknowledges the message, anything else has it redelivered.
 */
import { createRemoteJWKSet, errors, jwtVerify } from "jose";

const GOOGLE_ISSUERS = ["https://accounts.google.com", "accounts.google.com"];

export class PushTokenError extends Error {
	constructor(message: string) {
		super(message);
		this.name = "PushTokenError";
	}
}

export type PushTokenVerifier = (authorization: string | undefined) => Promise<void>;

export function pushTokenVerifier(options: {
	readonly certsUrl: string;
	readonly audience: string;
	readonly serviceAccount: string;
}): PushTokenVerifier {
	const keys = createRemoteJWKSet(new URL(options.certsUrl));
	return async (authorization) => {
		const token = /^Bearer ([\w.-]+)$/.exec(authorization ?? "")?.[1];
		if (token === undefined)
			throw new PushTokenError("authorization: expected Bearer <OIDC token>");
		try {
			const { payload } = await jwtVerify(token, keys, {
				issuer: GOOGLE_ISSUERS,
				audience: options.audience,
				algorithms: ["RS256"],
			});
			if (payload.email !== options.serviceAccount || payload.email_verified !== true)
				throw new PushTokenError(
					"authorization: the token is not for the configured push service account",
				);
		} catch (error) {
			if (error instanceof PushTokenError) throw error;
			if (error instanceof errors.JOSEError)
				throw new PushTokenError(`authorization: ${error.message}`);
			throw error;
		}
	};
}
