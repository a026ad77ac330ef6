/**
 * The sign-in page, for an authorization in progress (the provider resumes it where the login API says) or
 * for the account page (which reloads signed in). OPAQUE runs here, so the password never leaves the
 * page; a passkey is the other way in.
 */
import { element, getJson, identityBase, onSubmit, say } from "./api.ts";
import { hasPasskeys, opaqueLogin, passkeyLogin, WRONG_PASSWORD } from "./auth.ts";

interface Interaction {
	readonly login_finish: string;
	readonly passkey_finish: string;
}

const base = identityBase();
const isAccount = location.pathname === `${base}account`;

/** Where a login finishes: the authorization's interaction, or the account page's session. */
async function finishUrls(): Promise<{ password: string; passkey: string }> {
	if (isAccount)
		return { password: `${base}account/login`, passkey: `${base}account/passkey-login` };
	try {
		const details = await getJson<Interaction>(location.pathname);
		return { password: details.login_finish, passkey: details.passkey_finish };
	} catch {
		throw new Error("This sign-in has expired: go back to the app and start again.");
	}
}

/** After the login: the authorization goes on, or the account page opens. */
function proceed(answer: { redirect_to?: string }): void {
	say("Signed in.");
	if (isAccount) location.reload();
	else location.assign(answer.redirect_to ?? `${base}account`);
}

const form = element<HTMLFormElement>("sign-in");
const email = element<HTMLInputElement>("email");
const password = element<HTMLInputElement>("password");

// Sign-up and reset come back to this authorization when they are done.
const back = isAccount ? "" : `#${new URLSearchParams({ continue: location.pathname })}`;
element<HTMLAnchorElement>("sign-up-link").href = `${base}sign-up${back}`;
element<HTMLAnchorElement>("reset-link").href = `${base}reset-password${back}`;

onSubmit(form, async () => {
	if (!form.reportValidity()) return;
	say("Signing in…");
	const urls = await finishUrls();
	const answer = await opaqueLogin<{ redirect_to?: string }>(
		email.value,
		password.value,
		urls.password,
	);
	if (answer === null) {
		say(WRONG_PASSWORD, true);
		password.select();
		return;
	}
	proceed(answer);
});

const passkeyForm = element<HTMLFormElement>("passkey");
if (hasPasskeys()) {
	passkeyForm.hidden = false;
	onSubmit(passkeyForm, async () => {
		say("Waiting for your passkey…");
		const urls = await finishUrls();
		proceed(await passkeyLogin<{ redirect_to?: string }>(urls.passkey));
	});
}
