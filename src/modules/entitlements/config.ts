/** The `[entitlements]` config section: the Session Pro backend and its stores (docs/config.md). */
import { z } from "zod";

export const entitlementsConfigSection = z
	.strictObject({
		enabled: z.boolean().default(false).meta({
			description:
				"Serve the Session Pro backend routes (/status, /generate_pro_proof, …), signing proofs with the service key, or with the Python backend's key once `tollgate entitlements import` brought it over.",
		}),
		protocols: z
			.array(z.enum(["0.2.0", "v0"]))
			.min(1)
			.default(["0.2.0", "v0"])
			.meta({
				description:
					'The client protocols served, on the same routes: "0.2.0" (current libsession-util) and "v0" (legacy, Session builds before July 2026: bodies with "version": 0, plus /get_pro_details).',
			}),
		renewal_latency_allowance_seconds: z.number().int().min(0).max(604_800).default(3_600).meta({
			description:
				"How long past its store grace a renewing subscription stays covered, for renewals the store reports late (upstream: 1 hour).",
		}),
		apple_bundle_id: z.string().min(1).optional().meta({
			description:
				"The iOS app's bundle id. Set: POST /apple_notifications_v2 takes App Store Server Notifications V2 for it.",
		}),
		apple_environment: z.enum(["Production", "Sandbox"]).default("Production").meta({
			description: "Which App Store environment's notifications are accepted.",
		}),
		apple_app_apple_id: z.number().int().positive().optional().meta({
			description: "The app's Apple ID (a number); required in Production.",
		}),
		apple_root_certificates: z.array(z.string().min(1)).default([]).meta({
			description:
				"Paths of Apple's root certificates (DER, e.g. AppleRootCA-G3.cer from apple.com/certificateauthority) that notifications must chain to.",
		}),
		apple_online_checks: z.boolean().default(true).meta({
			description:
				"Check the notification certificates' revocation (OCSP) and expiry against the current time. Turn off only for tests.",
		}),
		apple_api_key_file: z.string().min(1).optional().meta({
			description:
				"Path of an App Store Connect API key (.p8). Set: a leased job replays notifications Apple failed to deliver, from its notification-history API, every apple_catch_up_interval_minutes.",
		}),
		apple_api_key_id: z.string().min(1).optional().meta({
			description: "The App Store Connect API key's id; required with apple_api_key_file.",
		}),
		apple_api_issuer_id: z.string().min(1).optional().meta({
			description: "The App Store Connect team's issuer id; required with apple_api_key_file.",
		}),
		apple_api_url: z
			.string()
			.regex(/^https?:\/\/[^/]/, "expected an http:// or https:// URL")
			.optional()
			.meta({
				description:
					"App Store Server API base URL; by default Apple's for apple_environment (a fake's, in tests).",
			}),
		apple_catch_up_interval_minutes: z.number().int().min(1).max(1_440).default(30).meta({
			description: "How often the notification-history catch-up runs.",
		}),
		google_package_name: z.string().min(1).optional().meta({
			description:
				"The Android app's package name (network.loki.messenger). Set: Google Play notifications for it are taken and its purchases read through the Play Developer API.",
		}),
		google_service_account_file: z.string().min(1).optional().meta({
			description:
				"Path of the service-account key (JSON, from the Google Cloud console) used for the Play Developer API and Pub/Sub.",
		}),
		google_pubsub_subscription: z
			.string()
			.regex(
				/^projects\/[^/]+\/subscriptions\/[^/]+$/,
				"expected projects/<project>/subscriptions/<name>",
			)
			.optional()
			.meta({
				description:
					"Pub/Sub pull subscription of the app's real-time developer notifications. Set: a leased job pulls it.",
			}),
		google_push_audience: z.string().min(1).optional().meta({
			description:
				"Audience of the Pub/Sub push subscription's OIDC token. Set: POST /google_notifications takes pushed notifications.",
		}),
		google_push_service_account: z.string().min(1).optional().meta({
			description:
				"E-mail of the service account Pub/Sub signs push tokens as; required with google_push_audience.",
		}),
		google_poll_interval_seconds: z.number().int().min(1).max(3_600).default(10).meta({
			description:
				"How often the leased Google job pulls notifications, reconciles queued purchases and acknowledges new ones.",
		}),
		google_play_api_url: z
			.string()
			.regex(/^https?:\/\/[^/]/, "expected an http:// or https:// URL")
			.default("https://androidpublisher.googleapis.com/")
			.meta({
				description: "Root URL of the Google Play Developer API (a fake's, in tests).",
			}),
		google_pubsub_url: z
			.string()
			.regex(/^https?:\/\/[^/]/, "expected an http:// or https:// URL")
			.default("https://pubsub.googleapis.com")
			.meta({
				description: "Root URL of the Pub/Sub REST API (a fake's, in tests).",
			}),
		google_oidc_certs_url: z
			.string()
			.regex(/^https?:\/\/[^/]/, "expected an http:// or https:// URL")
			.default("https://www.googleapis.com/oauth2/v3/certs")
			.meta({
				description: "Google's OIDC signing keys (JWKS) that push tokens are checked against.",
			}),
	})
	.superRefine((section, context) => {
		const required = (key: string, message: string) =>
			context.addIssue({ code: "custom", path: [key], message });
		if (section.apple_bundle_id !== undefined) {
			if (section.apple_root_certificates.length === 0)
				required(
					"apple_root_certificates",
					"required when entitlements.apple_bundle_id is set (Apple's root certificates)",
				);
			if (section.apple_environment === "Production" && section.apple_app_apple_id === undefined)
				required(
					"apple_app_apple_id",
					"required when entitlements.apple_environment is Production",
				);
		}
		if (section.apple_api_key_file !== undefined) {
			for (const key of ["apple_bundle_id", "apple_api_key_id", "apple_api_issuer_id"] as const)
				if (section[key] === undefined)
					required(key, "required when entitlements.apple_api_key_file is set");
		}
		if (section.google_package_name !== undefined) {
			if (section.google_service_account_file === undefined)
				required(
					"google_service_account_file",
					"required when entitlements.google_package_name is set",
				);
			if (
				section.google_push_audience !== undefined &&
				section.google_push_service_account === undefined
			)
				required(
					"google_push_service_account",
					"required when entitlements.google_push_audience is set",
				);
		}
	})
	.prefault({});

export type EntitlementsConfig = z.output<typeof entitlementsConfigSection>;
