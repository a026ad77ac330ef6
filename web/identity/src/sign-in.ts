/**
 * The sign-in page of an authorization in progress: OPAQUE in the browser (the password never leaves the
 * page), then the provider resumes the authorization where the login API sends it.
 */
import * as opaque from "@serenity-kit/opaque";
import { element, onSubmit, postJson, say } from "./api.ts";

interface Interaction {
	readonly login_start: string;
	readonly login_finish: string;
}

const WRONG = "The e-mail address or password is not right.";

async function interaction(): Promise<Interaction> {
	const response = await fetch(location.pathname, {
		headers: { accept: "application/json" },
		credentials: "same-origin",
	});
	if (!response.ok)
		throw new Error("This sign-in has expired: go back to the app and start again.");
	return (await response.json()) as Interaction;
}

const form = element<HTMLFormElement>("sign-in");
const email = element<HTMLInputElement>("email");
const password = element<HTMLInputElement>("password");

onSubmit(form, async () => {
	if (!form.reportValidity()) return;
	say("Signing in…");
	const [details] = await Promise.all([interaction(), opaque.ready]);
	const { clientLoginState, startLoginRequest } = opaque.client.startLogin({
		password: password.value,
	});
	const started = await postJson<{ login_id: string; login_response: string }>(
		details.login_start,
		{ email: email.value, start_login_request: startLoginRequest },
	);
	const finished = opaque.client.finishLogin({
		clientLoginState,
		loginResponse: started.login_response,
		password: password.value,
	});
	if (finished === undefined) {
		say(WRONG, true);
		password.select();
		return;
	}
	const { redirect_to: next } = await postJson<{ redirect_to: string }>(details.login_finish, {
		login_id: started.login_id,
		finish_login_request: finished.finishLoginRequest,
	});
	say("Signed in.");
	location.assign(next);
});
