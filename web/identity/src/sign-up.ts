/**
 * The sign-up page: asks for a confirmation link by mail (the same answer whether or not the address has
 * an account). An invitation, when sign-up needs one, comes in the fragment of the invitation link.
 */
import { element, fragmentValue, identityBase, onSubmit, postJson, say } from "./api.ts";

const base = identityBase();
const form = element<HTMLFormElement>("sign-up");
const email = element<HTMLInputElement>("email");
const name = element<HTMLInputElement>("name");
const invite = fragmentValue("invite");
const continueTo = fragmentValue("continue");
if (continueTo !== null) element<HTMLAnchorElement>("sign-in-link").href = continueTo;
if (document.body.dataset.signup === "invite" && invite === null) {
	say("Sign-up here is by invitation: open the link you were sent.", true);
	form.querySelector("button")?.setAttribute("disabled", "");
}

onSubmit(form, async () => {
	if (!form.reportValidity()) return;
	say("Sending…");
	await postJson(`${base}signup`, {
		email: email.value,
		...(name.value.trim() === "" ? {} : { display_name: name.value.trim() }),
		...(invite === null ? {} : { invite }),
		...(continueTo === null ? {} : { continue_to: continueTo }),
	});
	location.assign(`${base}check-mail`);
});
