/**
 * The ceiling of an OPAQUE login over HTTP in Node: raw node:http answering `/identity/login/start` and
 * `/identity/login/finish` with only the library's server calls, the login state kept in a Map, no
 * framework, storage, limits, logs or metrics. Driven by the same serial client as Tollgate's row, so the
 * library's work runs with the same idle gaps between calls; the library's own loop (the baseline)
 * runs them back to back with the processor's caches warm.
 */
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import * as opaque from "@serenity-kit/opaque";
import { BENCH_PASSWORD, CHEAP_KEY_STRETCHING } from "../clients/identity-client.ts";
import { listenAndAnnounce } from "./announce.ts";

await opaque.ready;
const serverSetup = opaque.server.createSetup();
const userIdentifier = "bench-user";
const registration = opaque.client.startRegistration({ password: BENCH_PASSWORD });
const { registrationRecord } = opaque.client.finishRegistration({
	clientRegistrationState: registration.clientRegistrationState,
	registrationResponse: opaque.server.createRegistrationResponse({
		serverSetup,
		userIdentifier,
		registrationRequest: registration.registrationRequest,
	}).registrationResponse,
	password: BENCH_PASSWORD,
	keyStretching: CHEAP_KEY_STRETCHING,
});
const loginStates = new Map<string, string>();

function answer(path: string | undefined, body: Record<string, string>): unknown {
	if (path === "/identity/login/start") {
		const { loginResponse, serverLoginState } = opaque.server.startLogin({
			serverSetup,
			userIdentifier,
			registrationRecord,
			startLoginRequest: body.start_login_request ?? "",
		});
		const loginId = randomBytes(32).toString("base64url");
		loginStates.set(loginId, serverLoginState);
		return { login_id: loginId, login_response: loginResponse };
	}
	const serverLoginState = loginStates.get(body.login_id ?? "") ?? "";
	loginStates.delete(body.login_id ?? "");
	const { sessionKey } = opaque.server.finishLogin({
		finishLoginRequest: body.finish_login_request ?? "",
		serverLoginState,
	});
	// A login that does not verify answers no user, which fails the run.
	return sessionKey === undefined ? {} : { user_id: userIdentifier };
}

const server = createServer((request, response) => {
	const chunks: Buffer[] = [];
	request.on("data", (chunk: Buffer) => chunks.push(chunk));
	request.on("end", () => {
		const body = JSON.stringify(
			answer(request.url, JSON.parse(Buffer.concat(chunks).toString("utf8"))),
		);
		response.writeHead(200, {
			"content-type": "application/json",
			"content-length": Buffer.byteLength(body),
		});
		response.end(body);
	});
});
listenAndAnnounce(server);
