/**
 * The page a set-password link opens (an operator's, a reset's or a sign-up's): a new OPAQUE registration,
 * made in the browser, for the link's account. Then on to the authorization the user came from, if any.
 */
import { element, fragmentValue, identityBase, onSubmit, postJson, say } from "./api.ts";
import { opaqueRegistration } from "./auth.ts";

const MIN_LENGTH = 10;
const base = identityBase();
const form = element<HTMLFormElement>("set-password");
const password = element<HTMLInputElement>("password");
const repeat = element<HTMLInputElement>("repeat");
const next = element<HTMLAnchorElement>("next");
const token = fragmentValue("token");

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
	const { continue_to: continueTo } = await opaqueRegistration(
		password.value,
		async (registrationRequest) =>
			(
				await postJson<{ registration_response: string }>(`${base}password/start`, {
					token,
					registration_request: registrationRequest,
				})
			).registration_response,
		(registrationRecord) =>
			postJson<{ continue_to: string | null }>(`${base}password/finish`, {
				token,
				registration_record: registrationRecord,
			}),
	);
	form.hidden = true;
	say("Your password is set.");
	next.href = continueTo ?? `${base}account`;
	next.textContent = continueTo === null ? "Sign in to your account" : "Continue signing in";
	next.hidden = false;
	next.focus();
});
