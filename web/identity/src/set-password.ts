/** The page a set-password link opens: a new OPAQUE registration, made in the browser, for the link's account. */
import * as opaque from "@serenity-kit/opaque";
import { element, onSubmit, postJson, say } from "./api.ts";

const MIN_LENGTH = 10;
const form = element<HTMLFormElement>("set-password");
const password = element<HTMLInputElement>("password");
const repeat = element<HTMLInputElement>("repeat");
const token = new URLSearchParams(location.hash.slice(1)).get("token");

if (token === null) {
	say("This link is not complete: open the whole link from your message.", true);
	form.querySelector("button")?.setAttribute("disabled", "");
}

onSubmit(form, async () => {
	if (password.value.length < MIN_LENGTH) {
		say(`The password needs at least ${MIN_LENGTH} characters.`, true);
		password.focus();
		return;
	}
	if (repeat.value !== password.value) {
		say("The two passwords differ.", true);
		repeat.focus();
		return;
	}
	say("Setting your password…");
	await opaque.ready;
	const { clientRegistrationState, registrationRequest } = opaque.client.startRegistration({
		password: password.value,
	});
	const { registration_response: registrationResponse } = await postJson<{
		registration_response: string;
	}>("./password/start", { token, registration_request: registrationRequest });
	const { registrationRecord } = opaque.client.finishRegistration({
		clientRegistrationState,
		registrationResponse,
		password: password.value,
	});
	await postJson("./password/finish", { token, registration_record: registrationRecord });
	form.hidden = true;
	say("Your password is set. Go back to the app and sign in.");
});
