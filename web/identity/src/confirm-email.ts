/** The page an e-mail change link opens: one press confirms the new address (the link's token). */
import { element, fragmentValue, identityBase, onSubmit, postJson, say } from "./api.ts";

const form = element<HTMLFormElement>("confirm");
const token = fragmentValue("token");
if (token === null) {
	say("This link is not complete: open the whole link from your message.", true);
	form.querySelector("button")?.setAttribute("disabled", "");
}

onSubmit(form, async () => {
	const { email } = await postJson<{ email: string }>(`${identityBase()}email/confirm`, { token });
	form.hidden = true;
	say(`Done: your account now uses ${email}.`);
	const next = element<HTMLAnchorElement>("next");
	next.hidden = false;
	next.focus();
});
