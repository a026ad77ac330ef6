/** The two ways to prove who you are, as the pages run them: OPAQUE (the password stays here) and passkeys. */
import * as opaque from "@serenity-kit/opaque";
import { startAuthentication, startRegistration } from "@simplewebauthn/browser";
import { identityBase, postJson } from "./api.ts";

export const WRONG_PASSWORD = "The e-mail address or password is not right.";

/**
 * The OPAQUE login: KE1 to login/start, KE3 to `finishUrl` (which says what the login was for). Null when
 * the password is wrong: the browser finds that out itself, so no proof is sent.
 */
export async function opaqueLogin<T>(
	email: string,
	password: string,
	finishUrl: string,
): Promise<T | null> {
	await opaque.ready;
	const { clientLoginState, startLoginRequest } = opaque.client.startLogin({ password });
	const started = await postJson<{ login_id: string; login_response: string }>(
		`${identityBase()}login/start`,
		{ email, start_login_request: startLoginRequest },
	);
	const finished = opaque.client.finishLogin({
		clientLoginState,
		loginResponse: started.login_response,
		password,
	});
	if (finished === undefined) return null;
	return postJson<T>(finishUrl, {
		login_id: started.login_id,
		finish_login_request: finished.finishLoginRequest,
	});
}

/** A new OPAQUE registration: `start` answers the request, `finish` stores the record. */
export async function opaqueRegistration<T>(
	password: string,
	start: (registrationRequest: string) => Promise<string>,
	finish: (registrationRecord: string) => Promise<T>,
): Promise<T> {
	await opaque.ready;
	const { clientRegistrationState, registrationRequest } = opaque.client.startRegistration({
		password,
	});
	const registrationResponse = await start(registrationRequest);
	const { registrationRecord } = opaque.client.finishRegistration({
		clientRegistrationState,
		registrationResponse,
		password,
	});
	return finish(registrationRecord);
}

export const hasPasskeys = () => typeof window.PublicKeyCredential === "function";

/** A passkey assertion, sent to `finishUrl`; `stepUp`: one of the signed-in account's own passkeys. */
export async function passkeyLogin<T>(finishUrl: string, stepUp = false): Promise<T> {
	const begun = await postJson<{ ceremony_id: string; options: never }>(
		`${identityBase()}passkey/options`,
		{ step_up: stepUp },
	);
	const response = await startAuthentication({ optionsJSON: begun.options });
	return postJson<T>(finishUrl, { ceremony_id: begun.ceremony_id, response });
}

/** A new passkey for the signed-in account. */
export async function addPasskey(name: string): Promise<void> {
	const base = identityBase();
	const begun = await postJson<{ ceremony_id: string; options: never }>(
		`${base}account/passkeys/options`,
		{},
	);
	const response = await startRegistration({ optionsJSON: begun.options });
	await postJson(`${base}account/passkeys`, { ceremony_id: begun.ceremony_id, response, name });
}
