/**
 * The Session Pro routes (upstream 0.3.0): JSON in whatever content type the client sends, always HTTP 200
 * with `{"status":"ok","result"}` or `{"status":"fail"|"error","error_code","error"}`. Bodies are checked
 * against zod schemas; the first bad field is named in upstream's words.
 */
import type { FastifyBaseLogger, FastifyPluginAsync, FastifyReply } from "fastify";
import { z } from "zod";
import { AppError, type FailureLog, logFailure } from "#errors";
import { JsonBodyError, parseJsonBody } from "#lib/json-body";
import { contentResponse, errorResponses, validatedByHandler } from "../../http/openapi.ts";
import type { RawRoutes } from "../../http/raw-routes.ts";
import { onionReachable } from "../../transports/onion/index.ts";
import { type AppleNotifications, UnverifiedNotificationError } from "./apple-notifications.ts";
import type { PaymentProvider, ProPlan } from "./entitlement.ts";
import type { EntitlementService } from "./entitlement-service.ts";
import { type GooglePlayNotifications, InvalidGoogleNotificationError } from "./google-play.ts";
import { PushTokenError, type PushTokenVerifier } from "./google-push.ts";
import { ProtocolError } from "./protocol.ts";

const hex64 = z.string().meta({ description: "32 bytes, 64 hex characters" });
const hex128 = z.string().meta({ description: "64 bytes, 128 hex characters" });
/** The largest time a JavaScript Date holds, in seconds: anything later is no timestamp. */
const MAX_TIMESTAMP_SECONDS = 8_640_000_000_000;
/** A century: no plan or revocation delay is longer. */
const MAX_DURATION_SECONDS = 100 * 366 * 86_400;
const seconds = z
	.int()
	.min(0)
	.max(MAX_TIMESTAMP_SECONDS)
	.meta({ description: "Unix time in seconds" });

const generateProofBody = z.object({
	master_pkey: hex64,
	rotating_pkey: hex64,
	ts: seconds,
	master_sig: hex128,
	rotating_sig: hex128,
});
const revocationsBody = z.object({ ticket: z.int() });
const proStatusBody = z.object({ master_pkey: hex64, master_sig: hex128, ts: seconds });
const paymentDetailsBody = z.object({
	master_pkey: hex64,
	master_sig: hex128,
	ts: seconds,
	limit: z.int(),
	before: z.string().optional(),
});
const addPaymentBody = z.object({
	master_pkey: hex64,
	provider: z.enum(["google_play", "app_store", "stf"]),
	plan: z.string(),
	duration: z.int().positive().max(MAX_DURATION_SECONDS).optional(),
	redeem: z.boolean().optional(),
});
const revokeBody = z.object({
	master_pkey: hex64,
	effective_in_seconds: z.int().nonnegative().max(MAX_DURATION_SECONDS).optional(),
});

const HEX_LABELS: Record<string, string> = {
	master_pkey: "Master public key",
	rotating_pkey: "Rotating public key",
	master_sig: "Master key signature",
	rotating_sig: "Rotating key signature",
};

const EXPECTED: Record<string, string> = {
	string: "a string",
	int: "an integer",
	number: "an integer",
	boolean: "a bool",
};

function jsonTypeName(value: unknown): string {
	if (value === null) return "NoneType";
	if (Array.isArray(value)) return "list";
	if (typeof value === "object") return "dict";
	if (typeof value === "boolean") return "bool";
	if (typeof value === "number") return Number.isInteger(value) ? "int" : "float";
	return "str";
}

/** Parses and checks a body the way upstream reports problems: the first bad key, by name. */
function readBody<T extends z.ZodObject>(schema: T, raw: unknown): z.infer<T> {
	let body: unknown;
	try {
		body = parseJsonBody(Buffer.isBuffer(raw) ? raw.toString("utf8") : "");
	} catch (error) {
		if (!(error instanceof JsonBodyError)) throw error;
		throw new ProtocolError("invalid_request", `Failed to parse JSON body: ${error.message}`);
	}
	if (typeof body !== "object" || body === null || Array.isArray(body))
		throw new ProtocolError("invalid_request", "JSON body was not an object");
	const parsed = schema.safeParse(body);
	if (parsed.success) {
		for (const [key, label] of Object.entries(HEX_LABELS)) {
			const value = (parsed.data as Record<string, unknown>)[key];
			if (typeof value !== "string") continue;
			const length = key.endsWith("_sig") ? 128 : 64;
			if (value.length !== length)
				throw new ProtocolError(
					"invalid_request",
					`${label} was not ${length} characters, was ${value.length} characters`,
				);
			if (!/^[0-9a-fA-F]*$/.test(value))
				throw new ProtocolError("invalid_request", `${label} was not valid hex`);
		}
		return parsed.data;
	}
	const issue = parsed.error.issues[0];
	const key = String(issue?.path[0] ?? "");
	const value = (body as Record<string, unknown>)[key];
	if (value === undefined) {
		throw new ProtocolError(
			"invalid_request",
			`Required key "${key}" is missing from JSON: dictionary w/ keys: {${Object.keys(body).join(", ")}}`,
		);
	}
	const expected = issue?.code === "invalid_type" ? EXPECTED[issue.expected] : undefined;
	throw new ProtocolError(
		"invalid_request",
		expected === undefined
			? `Key "${key}" value is invalid: ${issue?.message ?? "unexpected value"}`
			: `Key "${key}" value was not ${expected}: "${jsonTypeName(value)}"`,
	);
}

/** A store's notification body: JSON, or the app's own invalid_request (stores are not Session clients). */
function storeNotificationJson(raw: unknown): unknown {
	try {
		return parseJsonBody(Buffer.isBuffer(raw) ? raw.toString("utf8") : "");
	} catch (error) {
		if (!(error instanceof JsonBodyError)) throw error;
		throw new AppError("invalid_request", { description: `body: ${error.message}` });
	}
}

const bytes = (hexText: string) => new Uint8Array(Buffer.from(hexText, "hex"));

const PLANS: ReadonlyMap<string, ProPlan> = new Map([
	["1m", "1m"],
	["3m", "3m"],
	["12m", "1y"],
	["1y", "1y"],
	["onemonth", "1m"],
	["threemonth", "3m"],
	["twelvemonth", "1y"],
]);

function planOf(text: string): ProPlan {
	const plan = PLANS.get(text.toLowerCase().replaceAll("_", ""));
	if (plan === undefined)
		throw new ProtocolError(
			"invalid_request",
			`Unrecognised plan: ${text} (expected one of 1M, 3M, 12M)`,
		);
	return plan;
}

const FAILURE_MESSAGE = "Session Pro request failed";

const envelopeSchema = z.union([
	z.object({ status: z.literal("ok"), result: z.unknown() }),
	z.looseObject({
		status: z.enum(["fail", "error"]),
		error_code: z
			.string()
			.meta({ description: "invalid_request, bad_signature, stale_request, …" }),
		error: z.string(),
	}),
]);
const ENVELOPE_RESPONSES = {
	200: contentResponse(
		"The protocol's envelope: every outcome but an unreachable ledger.",
		"application/json",
		envelopeSchema,
	),
	503: contentResponse(
		"The ledger is unreachable: status error, error_code service_unavailable.",
		"application/json",
		envelopeSchema,
	),
};

interface EnvelopeReply {
	/** 200 for every protocol outcome, as upstream answers; 503 while the ledger cannot be reached. */
	readonly status: 200 | 503;
	readonly bytes: Buffer;
}

/** The protocol's envelope for one call. */
async function envelope(
	work: () => Promise<unknown>,
	log: FailureLog,
	fields: object = {},
): Promise<EnvelopeReply> {
	let body: Record<string, unknown>;
	let status: EnvelopeReply["status"] = 200;
	try {
		body = { status: "ok", result: await work() };
	} catch (error) {
		if (error instanceof ProtocolError) {
			body = error.envelope();
		} else if (error instanceof AppError && error.code === "service_unavailable") {
			// Not the client's fault and not a bug: "error" with its own slug, so a client retries later.
			logFailure(log, error, fields);
			status = 503;
			body = new ProtocolError(
				"service_unavailable",
				"The backend cannot reach its database right now; retry later",
			).envelope();
		} else {
			log.error({ ...fields, err: error }, FAILURE_MESSAGE);
			body = new ProtocolError("internal_error", "Internal server error").envelope();
		}
	}
	return { status, bytes: Buffer.from(JSON.stringify(body), "utf8") };
}

/** The signed calls every Session client makes, from the raw request body to the call's result. */
function clientCalls(service: EntitlementService) {
	return [
		{
			path: "/generate_pro_proof",
			summary: "A backend-signed proof that a rotating key belongs to an entitled account.",
			body: generateProofBody,
			run: (raw: unknown) => {
				const body = readBody(generateProofBody, raw);
				return service.generateProof({
					masterPkey: bytes(body.master_pkey),
					rotatingPkey: bytes(body.rotating_pkey),
					ts: body.ts,
					masterSig: bytes(body.master_sig),
					rotatingSig: bytes(body.rotating_sig),
				});
			},
		},
		{
			path: "/get_pro_revocations",
			summary: "Revocation tags since the client's ticket.",
			body: revocationsBody,
			run: (raw: unknown) => service.revocations(readBody(revocationsBody, raw).ticket),
		},
		{
			path: "/get_pro_status",
			summary: "An account's status and latest payment.",
			body: proStatusBody,
			run: (raw: unknown) => {
				const body = readBody(proStatusBody, raw);
				return service.proStatus({
					masterPkey: bytes(body.master_pkey),
					masterSig: bytes(body.master_sig),
					ts: body.ts,
				});
			},
		},
		{
			path: "/get_payment_details",
			summary: "An account's payments, newest first, a page at a time.",
			body: paymentDetailsBody,
			run: (raw: unknown) => {
				const body = readBody(paymentDetailsBody, raw);
				return service.paymentDetails({
					masterPkey: bytes(body.master_pkey),
					masterSig: bytes(body.master_sig),
					ts: body.ts,
					limit: body.limit,
					before: body.before ?? "",
				});
			},
		},
	] as const;
}

const appleNotificationBody = z.object({ signedPayload: z.string().min(1) });
const pushBody = z.object({
	message: z.looseObject({
		data: z.base64(),
		messageId: z.string().min(1),
	}),
	subscription: z.string().min(1),
});

export const entitlementsRoutes: FastifyPluginAsync<{
	service: EntitlementService;
	/** The client calls are answered here for HTTP clients; their Fastify twins serve onion requests. */
	rawRoutes: RawRoutes;
	devEndpoints: boolean;
	/** App Store Server Notifications V2, when an App Store app is configured. */
	apple: AppleNotifications | undefined;
	/** Pub/Sub push delivery of Google Play notifications, when configured. */
	googlePush:
		| { readonly notifications: GooglePlayNotifications; readonly verify: PushTokenVerifier }
		| undefined;
}> = async (app, { service, rawRoutes, devEndpoints, apple, googlePush }) => {
	// Upstream reads the body as JSON whatever its content type; clients send application/json or none.
	app.removeAllContentTypeParsers();
	app.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => {
		done(null, body);
	});

	// A Buffer, so the content type stays exactly Flask's `application/json` (no charset appended).
	const answer = async (
		log: FastifyBaseLogger,
		reply: FastifyReply,
		work: () => Promise<unknown>,
	): Promise<FastifyReply> => {
		const { status, bytes } = await envelope(work, log);
		return reply.code(status).header("content-type", "application/json").send(bytes);
	};

	// The body schema documents the route; parsing happens in the handler so failures keep the envelope.
	const documented = (
		summary: string,
		body: z.ZodObject | undefined,
		response: Record<number, unknown> = ENVELOPE_RESPONSES,
	) => ({
		...validatedByHandler,
		schema: { tags: ["entitlements"], summary, ...(body === undefined ? {} : { body }), response },
	});

	for (const method of ["GET", "POST"] as const) {
		app.route({
			method,
			url: "/status",
			...documented("Backend version, clock and signing key.", undefined),
			config: onionReachable,
			handler: (request, reply) => answer(request.log, reply, async () => service.status()),
		});
	}

	for (const call of clientCalls(service)) {
		app.post(
			call.path,
			{ ...documented(call.summary, call.body), config: onionReachable },
			(request, reply) => answer(request.log, reply, () => call.run(request.body)),
		);
		rawRoutes.add("POST", call.path, async (_request, { body, requestId }) => {
			const { status, bytes } = await envelope(() => call.run(body), app.log, {
				request_id: requestId,
				route: call.path,
			});
			return { status, body: { contentType: "application/json", bytes } };
		});
	}

	if (apple !== undefined) {
		app.post(
			"/apple_notifications_v2",
			documented(
				"App Store Server Notifications V2: 200 once applied (or seen before); 500 asks Apple to resend.",
				appleNotificationBody,
				{
					200: contentResponse("Applied, or seen before.", "text/plain", z.string()),
					...errorResponses(400, 401, 500, 503),
				},
			),
			async (request, reply) => {
				const parsed = appleNotificationBody.safeParse(storeNotificationJson(request.body));
				if (!parsed.success)
					throw new AppError("invalid_request", {
						description: "signedPayload: expected a non-empty string",
					});
				try {
					const outcome = await apple.handle(parsed.data.signedPayload);
					request.log.info({ outcome }, "App Store notification");
				} catch (error) {
					if (error instanceof UnverifiedNotificationError)
						throw new AppError("unauthorized", { description: error.message });
					throw error;
				}
				return reply.code(200).send();
			},
		);
	}

	if (googlePush !== undefined) {
		app.post(
			"/google_notifications",
			documented(
				"Pub/Sub push of Google Play real-time developer notifications: 204 once recorded (or seen before); 400/401 and 5xx have Pub/Sub redeliver.",
				pushBody,
				{
					204: z.null().meta({ description: "Recorded, or seen before." }),
					...errorResponses(400, 401, 500, 503),
				},
			),
			async (request, reply) => {
				try {
					await googlePush.verify(request.headers.authorization);
				} catch (error) {
					if (error instanceof PushTokenError)
						throw new AppError("unauthorized", { description: error.message });
					throw error;
				}
				const parsed = pushBody.safeParse(storeNotificationJson(request.body));
				if (!parsed.success) {
					const issue = parsed.error.issues[0];
					throw new AppError("invalid_request", {
						description: `${issue?.path.join(".") ?? "body"}: ${issue?.message ?? "invalid"}`,
					});
				}
				const { message } = parsed.data;
				try {
					const notification = googlePush.notifications.decode(
						message.messageId,
						Buffer.from(message.data, "base64"),
					);
					const outcome = await googlePush.notifications.intake(notification);
					request.log.info({ outcome }, "Google Play notification");
				} catch (error) {
					if (error instanceof InvalidGoogleNotificationError)
						throw new AppError("invalid_request", { description: error.message });
					throw error;
				}
				return reply.code(204).send();
			},
		);
	}

	if (!devEndpoints) return;

	app.post(
		"/dev/add_payment",
		documented("Dev mode only: a payment with no store involved.", addPaymentBody),
		(request, reply) =>
			answer(request.log, reply, () => {
				const body = readBody(addPaymentBody, request.body);
				return service.addPayment({
					masterPkey: bytes(body.master_pkey),
					provider: body.provider as PaymentProvider,
					plan: planOf(body.plan),
					...(body.duration === undefined ? {} : { durationMs: body.duration * 1_000 }),
					redeem: body.redeem ?? true,
				});
			}),
	);

	app.post(
		"/dev/revoke",
		documented("Dev mode only: revoke an account's current proofs.", revokeBody),
		(request, reply) =>
			answer(request.log, reply, () => {
				const body = readBody(revokeBody, request.body);
				return service.revokeGeneration(bytes(body.master_pkey), body.effective_in_seconds ?? 0);
			}),
	);
};
