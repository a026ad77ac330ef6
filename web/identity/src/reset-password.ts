/** The reset page: asks for a set-password link by mail (the same answer for any address). */
import { element, fragmentValue, identityBase, onSubmit, postJson, say } from "./api.ts";

const base = identityBase();
const form = element<HTMLFormElement>("reset");
const email = element<HTMLInputElement>("email");
const continueTo = fragmentValue("continue");

onSubmit(form, async () => {
	if (!form.reportValidity()) return;
	say("Sending…");
	await postJson(`${base}password/reset`, {
		email: email.value,
		...(continueTo === null ? {} : { continue_to: continueTo }),
	});
	location.assign(`${base}check-mail`);
});
