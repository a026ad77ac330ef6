/**
 * The Session Pro routes (upstream 0.3.0, and legacy v0 on the same paths): JSON in whatever content type
 * the client sends, always HTTP 200 with `{"status":"ok","result"}` or `{"status":"fail"|"error","error_code",
 * "error"}` — in legacy v0 `{"status":0,"result"}` or `{"status":N,"errors":[…]}`. Bodies are checked
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
import {
	type LegacyPaymentTx,
	LegacyProtocolError,
	LegacyProvider,
	LegacyStatus,
	legacySuccess,
} from "./legacy-protocol.ts";
import type { LegacyEntitlementService } from "./legacy-service.ts";
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

/** The largest time a JavaScript Date holds, in milliseconds. */
const MAX_TIMESTAMP_MS = MAX_TIMESTAMP_SECONDS * 1_000;
const milliseconds = z
	.int()
	.min(0)
	.max(MAX_TIMESTAMP_MS)
	.meta({ description: "Unix time in milliseconds" });
const legacyVersion = z.literal(0).meta({ description: "Legacy v0 protocol: always 0" });

const legacyGenerateProofBody = z.object({
	version: legacyVersion,
	master_pkey: hex64,
	rotating_pkey: hex64,
	unix_ts_ms: milliseconds,
	master_sig: hex128,
	rotating_sig: hex128,
});
const legacyRevocationsBody = z.object({ version: legacyVersion, ticket: z.int() });
const legacyProDetailsBody = z.object({
	version: legacyVersion,
	master_pkey: hex64,
	master_sig: hex128,
	unix_ts_ms: milliseconds,
	count: z.int().min(0).max(0xffff_ffff),
});

const legacyPaymentTx = z.object({
	provider: z.int().meta({ description: "1 Google Play, 2 App Store" }),
	google_payment_token: z.string().optional(),
	google_order_id: z.string().optional(),
	apple_tx_id: z.string().optional(),
});
const LEGACY_MAX_DEV_DURATION_MS = 365 * 86_400_000;
const legacyAddPaymentBody = z.object({
	version: legacyVersion,
	master_pkey: hex64,
	rotating_pkey: hex64,
	master_sig: hex128,
	rotating_sig: hex128,
	payment_tx: legacyPaymentTx,
	dev_plan: z
		.string()
		.optional()
		.meta({ description: "Dev mode: OneMonth, ThreeMonth or TwelveMonth" }),
	dev_duration_ms: z.int().positive().max(LEGACY_MAX_DEV_DURATION_MS).optional(),
	dev_auto_renewing: z.boolean().optional(),
});

const legacyRefundBody = z.object({
	version: legacyVersion,
	master_pkey: hex64,
	master_sig: hex128,
	unix_ts_ms: milliseconds,
	refund_requested_unix_ts_ms: milliseconds,
	payment_tx: legacyPaymentTx,
});

/** The payment a legacy body names, in the shape its signed digest takes. */
function legacyPaymentOf(tx: z.infer<typeof legacyPaymentTx>): LegacyPaymentTx {
	const required = (key: "google_payment_token" | "google_order_id" | "apple_tx_id") => {
		const value = tx[key];
		if (value === undefined)
			throw failLegacy(`Required key "payment_tx.${key}" is missing from JSON`);
		return value;
	};
	if (tx.provider === LegacyProvider.googlePlay)
		return {
			provider: LegacyProvider.googlePlay,
			googlePaymentToken: required("google_payment_token"),
			googleOrderId: required("google_order_id"),
		};
	if (tx.provider === LegacyProvider.appStore)
		return { provider: LegacyProvider.appStore, appleTxId: required("apple_tx_id") };
	throw failLegacy("Bad payment provider given");
}

const LEGACY_DEV_DURATION_MS = 86_400_000;

/** Keys only one protocol sends: a body with both kinds is refused, not guessed at. */
const LEGACY_ONLY_KEYS = [
	"version",
	"unix_ts_ms",
	"count",
	"payment_tx",
	"refund_requested_unix_ts_ms",
];
const MODERN_ONLY_KEYS = ["ts", "limit", "before"];

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

type Fail = (message: string) => Error;
const failModern: Fail = (message) => new ProtocolError("invalid_request", message);
const failLegacy: Fail = (message) => new LegacyProtocolError(LegacyStatus.parseError, message);

/** The body as a JSON object, or the failure in the envelope of the protocol being answered. */
function parseObject(raw: unknown, fail: Fail): Record<string, unknown> {
	let body: unknown;
	try {
		body = parseJsonBody(Buffer.isBuffer(raw) ? raw.toString("utf8") : "");
	} catch (error) {
		if (!(error instanceof JsonBodyError)) throw error;
		throw fail(`Failed to parse JSON body: ${error.message}`);
	}
	if (typeof body !== "object" || body === null || Array.isArray(body))
		throw fail("JSON body was not an object");
	return body as Record<string, unknown>;
}

/** Checks a body the way upstream reports problems: the first bad key, by name. */
function checkFields<T extends z.ZodObject>(
	schema: T,
	body: Record<string, unknown>,
	fail: Fail,
): z.infer<T> {
	const parsed = schema.safeParse(body);
	if (parsed.success) {
		for (const [key, label] of Object.entries(HEX_LABELS)) {
			const value = (parsed.data as Record<string, unknown>)[key];
			if (typeof value !== "string") continue;
			const length = key.endsWith("_sig") ? 128 : 64;
			if (value.length !== length)
				throw fail(`${label} was not ${length} characters, was ${value.length} characters`);
			if (!/^[0-9a-fA-F]*$/.test(value)) throw fail(`${label} was not valid hex`);
		}
		return parsed.data;
	}
	const issue = parsed.error.issues[0];
	const key = String(issue?.path[0] ?? "");
	const value = body[key];
	if (value === undefined) {
		throw fail(
			`Required key "${key}" is missing from JSON: dictionary w/ keys: {${Object.keys(body).join(", ")}}`,
		);
	}
	const expected = issue?.code === "invalid_type" ? EXPECTED[issue.expected] : undefined;
	throw fail(
		expected === undefined
			? `Key "${key}" value is invalid: ${issue?.message ?? "unexpected value"}`
			: `Key "${key}" value was not ${expected}: "${jsonTypeName(value)}"`,
	);
}

function readBody<T extends z.ZodObject>(schema: T, raw: unknown): z.infer<T> {
	return checkFields(schema, parseObject(raw, failModern), failModern);
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

/** A plan by any name either protocol uses ("1M", "12m", "OneMonth", "twelve_month"…); undefined if none. */
function planNamed(text: string): ProPlan | undefined {
	return PLANS.get(text.toLowerCase().replaceAll("_", ""));
}

function planOf(text: string): ProPlan {
	const plan = planNamed(text);
	if (plan === undefined)
		throw new ProtocolError(
			"invalid_request",
			`Unrecognised plan: ${text} (expected one of 1M, 3M, 12M)`,
		);
	return plan;
}

function legacyPlanOf(text: string): ProPlan {
	const plan = planNamed(text);
	if (plan === undefined)
		throw failLegacy(
			`Unrecognised dev_plan: ${text} (expected OneMonth, ThreeMonth or TwelveMonth)`,
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

/** Which protocol's envelope a call is answered in: legacy v0 once its body says so. */
interface CallContext {
	isLegacy: boolean;
}

/** One call in its protocol's envelope; `work` returns the success envelope. */
async function envelope(
	work: (context: CallContext) => Promise<Record<string, unknown>>,
	log: FailureLog,
	fields: object = {},
): Promise<EnvelopeReply> {
	const context: CallContext = { isLegacy: false };
	let body: Record<string, unknown>;
	let status: EnvelopeReply["status"] = 200;
	const failure = (slug: "service_unavailable" | "internal_error", message: string) =>
		context.isLegacy
			? new LegacyProtocolError(LegacyStatus.error, message).envelope()
			: new ProtocolError(slug, message).envelope();
	try {
		body = await work(context);
	} catch (error) {
		if (error instanceof ProtocolError || error instanceof LegacyProtocolError) {
			body = error.envelope();
		} else if (error instanceof AppError && error.code === "service_unavailable") {
			// Not the client's fault and not a bug: "error" with its own slug, so a client retries later.
			logFailure(log, error, fields);
			status = 503;
			body = failure(
				"service_unavailable",
				"The backend cannot reach its database right now; retry later",
			);
		} else {
			log.error({ ...fields, err: error }, FAILURE_MESSAGE);
			body = failure("internal_error", "Internal server error");
		}
	}
	return { status, bytes: Buffer.from(JSON.stringify(body), "utf8") };
}

/** A route's answer in each protocol it serves; a protocol left out is not served there. */
interface ProtocolHandlers {
	readonly modern?: ((body: Record<string, unknown>) => Promise<unknown>) | undefined;
	readonly legacy?: ((body: Record<string, unknown>) => Promise<unknown>) | undefined;
}

/**
 * Both protocols on one route: a body with `version` (or another key only legacy v0 sends) is a legacy
 * request, anything else a 0.2.0 one. A body mixing the two is refused with the keys that clash.
 */
async function answerCall(
	raw: unknown,
	context: CallContext,
	{ modern, legacy }: ProtocolHandlers,
): Promise<Record<string, unknown>> {
	const body = parseObject(raw, modern === undefined ? failLegacy : failModern);
	const legacyKeys = LEGACY_ONLY_KEYS.filter((key) => key in body);
	if (modern !== undefined && legacyKeys.length === 0)
		return { status: "ok", result: await modern(body) };
	if (legacy === undefined)
		throw failModern(
			`This backend does not serve the legacy v0 protocol (the body has ${legacyKeys.join(", ")})`,
		);
	if (modern !== undefined && !("version" in body))
		throw failModern(
			`Legacy v0 fields (${legacyKeys.join(", ")}) need "version": 0; a 0.2.0 request sends none of them`,
		);
	context.isLegacy = true;
	if ("version" in body && body.version !== 0)
		throw failLegacy(`Unrecognised version passed: ${JSON.stringify(body.version)}`);
	const modernKeys = MODERN_ONLY_KEYS.filter((key) => key in body);
	if (modernKeys.length > 0)
		throw failLegacy(
			`The body mixes legacy v0 fields (${legacyKeys.join(", ")}) with 0.2.0 fields (${modernKeys.join(", ")})`,
		);
	return legacySuccess((await legacy(body)) as Record<string, unknown>);
}

export type ProProtocol = "0.2.0" | "v0";

/** The signed calls every Session client makes, from the raw request body to the call's envelope. */
function clientCalls(
	service: EntitlementService,
	legacyService: LegacyEntitlementService,
	protocols: ReadonlySet<ProProtocol>,
	devEndpoints: boolean,
) {
	const modern = <T>(handler: T) => (protocols.has("0.2.0") ? handler : undefined);
	const legacy = <T>(handler: T) => (protocols.has("v0") ? handler : undefined);
	const calls = [
		{
			path: "/generate_pro_proof",
			summary:
				"A backend-signed proof that a rotating key belongs to an entitled account (0.2.0, or legacy v0 with version 0).",
			body: z.union([generateProofBody, legacyGenerateProofBody]),
			handlers: {
				modern: modern(async (fields: Record<string, unknown>) => {
					const body = checkFields(generateProofBody, fields, failModern);
					return service.generateProof({
						masterPkey: bytes(body.master_pkey),
						rotatingPkey: bytes(body.rotating_pkey),
						ts: body.ts,
						masterSig: bytes(body.master_sig),
						rotatingSig: bytes(body.rotating_sig),
					});
				}),
				legacy: legacy(async (fields: Record<string, unknown>) => {
					const body = checkFields(legacyGenerateProofBody, fields, failLegacy);
					return legacyService.generateProof({
						masterPkey: bytes(body.master_pkey),
						rotatingPkey: bytes(body.rotating_pkey),
						unixTsMs: body.unix_ts_ms,
						masterSig: bytes(body.master_sig),
						rotatingSig: bytes(body.rotating_sig),
					});
				}),
			},
		},
		{
			path: "/get_pro_revocations",
			summary:
				"Revoked proofs since the client's ticket (0.2.0 tags, or legacy v0 gen index hashes).",
			body: z.union([revocationsBody, legacyRevocationsBody]),
			handlers: {
				modern: modern(async (fields: Record<string, unknown>) =>
					service.revocations(checkFields(revocationsBody, fields, failModern).ticket),
				),
				legacy: legacy(async (fields: Record<string, unknown>) =>
					legacyService.revocations(checkFields(legacyRevocationsBody, fields, failLegacy).ticket),
				),
			},
		},
		{
			path: "/get_pro_status",
			summary: "An account's status and latest payment (0.2.0).",
			body: proStatusBody,
			handlers: {
				modern: modern(async (fields: Record<string, unknown>) => {
					const body = checkFields(proStatusBody, fields, failModern);
					return service.proStatus({
						masterPkey: bytes(body.master_pkey),
						masterSig: bytes(body.master_sig),
						ts: body.ts,
					});
				}),
			},
		},
		{
			path: "/get_payment_details",
			summary: "An account's payments, newest first, a page at a time (0.2.0).",
			body: paymentDetailsBody,
			handlers: {
				modern: modern(async (fields: Record<string, unknown>) => {
					const body = checkFields(paymentDetailsBody, fields, failModern);
					return service.paymentDetails({
						masterPkey: bytes(body.master_pkey),
						masterSig: bytes(body.master_sig),
						ts: body.ts,
						limit: body.limit,
						before: body.before ?? "",
					});
				}),
			},
		},
		{
			path: "/add_pro_payment",
			summary:
				"Legacy v0: bind a store payment to the master key and get its first proof (dev mode: DEV.-prefixed ids make the payment).",
			body: legacyAddPaymentBody,
			handlers: {
				legacy: legacy(async (fields: Record<string, unknown>) => {
					const body = checkFields(legacyAddPaymentBody, fields, failLegacy);
					const payment = legacyPaymentOf(body.payment_tx);
					return legacyService.addProPayment({
						masterPkey: bytes(body.master_pkey),
						rotatingPkey: bytes(body.rotating_pkey),
						masterSig: bytes(body.master_sig),
						rotatingSig: bytes(body.rotating_sig),
						payment,
						...(devEndpoints
							? {
									dev: {
										plan: legacyPlanOf(body.dev_plan ?? "OneMonth"),
										durationMs: body.dev_duration_ms ?? LEGACY_DEV_DURATION_MS,
										autoRenewing: body.dev_auto_renewing ?? false,
									},
								}
							: {}),
					});
				}),
			},
		},
		{
			path: "/set_payment_refund_requested",
			summary:
				"Legacy v0 (iOS): record that the holder asked Apple to refund one of their payments (0 withdraws it).",
			body: legacyRefundBody,
			handlers: {
				legacy: legacy(async (fields: Record<string, unknown>) => {
					const body = checkFields(legacyRefundBody, fields, failLegacy);
					return legacyService.setPaymentRefundRequested({
						masterPkey: bytes(body.master_pkey),
						masterSig: bytes(body.master_sig),
						unixTsMs: body.unix_ts_ms,
						refundRequestedUnixTsMs: body.refund_requested_unix_ts_ms,
						payment: legacyPaymentOf(body.payment_tx),
					});
				}),
			},
		},
		{
			path: "/get_pro_details",
			summary: "Legacy v0: an account's status and its payments, newest first.",
			body: legacyProDetailsBody,
			handlers: {
				legacy: legacy(async (fields: Record<string, unknown>) => {
					const body = checkFields(legacyProDetailsBody, fields, failLegacy);
					return legacyService.proDetails({
						masterPkey: bytes(body.master_pkey),
						masterSig: bytes(body.master_sig),
						unixTsMs: body.unix_ts_ms,
						count: body.count,
					});
				}),
			},
		},
	];
	return calls
		.filter(({ handlers }) => handlers.modern !== undefined || handlers.legacy !== undefined)
		.map((call) => ({
			...call,
			run: (raw: unknown, context: CallContext) => answerCall(raw, context, call.handlers),
		}));
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
	legacyService: LegacyEntitlementService;
	/** The protocols the client calls answer in (entitlements.protocols). */
	protocols: ReadonlySet<ProProtocol>;
	/** The client calls are answered here for HTTP clients; their Fastify twins serve onion requests. */
	rawRoutes: RawRoutes;
	devEndpoints: boolean;
	/** App Store Server Notifications V2, when an App Store app is configured. */
	apple: AppleNotifications | undefined;
	/** Pub/Sub push delivery of Google Play notifications, when configured. */
	googlePush:
		| { readonly notifications: GooglePlayNotifications; readonly verify: PushTokenVerifier }
		| undefined;
}> = async (
	app,
	{ service, legacyService, protocols, rawRoutes, devEndpoints, apple, googlePush },
) => {
	// Upstream reads the body as JSON whatever its content type; clients send application/json or none.
	app.removeAllContentTypeParsers();
	app.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => {
		done(null, body);
	});

	// A Buffer, so the content type stays exactly Flask's `application/json` (no charset appended).
	const send = (reply: FastifyReply, { status, bytes }: EnvelopeReply) =>
		reply.code(status).header("content-type", "application/json").send(bytes);
	const answer = async (
		log: FastifyBaseLogger,
		reply: FastifyReply,
		work: () => Promise<unknown>,
	): Promise<FastifyReply> =>
		send(reply, await envelope(async () => ({ status: "ok", result: await work() }), log));

	// The body schema documents the route; parsing happens in the handler so failures keep the envelope.
	const documented = (
		summary: string,
		body: z.ZodType | undefined,
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

	for (const call of clientCalls(service, legacyService, protocols, devEndpoints)) {
		app.post(
			call.path,
			{ ...documented(call.summary, call.body), config: onionReachable },
			async (request, reply) =>
				send(reply, await envelope((context) => call.run(request.body, context), request.log)),
		);
		rawRoutes.add("POST", call.path, async (_request, { body, requestId }) => {
			const { status, bytes } = await envelope((context) => call.run(body, context), app.log, {
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
