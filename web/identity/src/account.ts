/**
 * The account page (signed in): profile, e-mail and password changes, passkeys, signed-in browsers and
 * apps with access, deletion. What needs a fresh sign-in (step-up) asks for the password or a passkey in a
 * dialog, then goes on by itself.
 */
import { ApiError, element, getJson, identityBase, onSubmit, postJson, say } from "./api.ts";
import {
	addPasskey,
	hasPasskeys,
	opaqueLogin,
	opaqueRegistration,
	passkeyLogin,
	WRONG_PASSWORD,
} from "./auth.ts";

interface Account {
	readonly email: string;
	readonly display_name: string | null;
	readonly passkeys: readonly {
		id: string;
		name: string;
		kind: string;
		last_used_at: number | null;
	}[];
	readonly sessions: readonly { id: string; signed_in_at: number | null; client_ids: string[] }[];
	readonly grants: readonly { id: string; client_id: string; scopes: string[] }[];
}

const MIN_LENGTH = 10;
const base = identityBase();
let account: Account | null = null;

const when = (seconds: number | null) =>
	seconds === null ? "" : new Date(seconds * 1_000).toLocaleString();

/** One row with its text and a button that runs `act`, reporting in `statusId`. */
function row(
	text: string,
	label: string,
	statusId: string,
	act: () => Promise<void>,
): HTMLLIElement {
	const item = document.createElement("li");
	const span = document.createElement("span");
	span.textContent = text;
	const button = document.createElement("button");
	button.type = "button";
	button.className = "secondary";
	button.textContent = label;
	button.setAttribute("aria-label", `${label}: ${text}`);
	button.addEventListener("click", () => {
		button.disabled = true;
		stepUpIfNeeded(act)
			.then(() => load())
			.catch((error: unknown) => {
				button.disabled = false;
				say(error instanceof Error ? error.message : String(error), true, statusId);
			});
	});
	item.append(span, button);
	return item;
}

function fill(list: HTMLElement, items: HTMLLIElement[], empty: string): void {
	if (items.length === 0) {
		const item = document.createElement("li");
		item.className = "empty";
		item.textContent = empty;
		items.push(item);
	}
	list.replaceChildren(...items);
}

async function load(): Promise<void> {
	try {
		account = await getJson<Account>(`${base}account`);
	} catch (error) {
		if (error instanceof ApiError && error.status === 401) location.reload();
		throw error;
	}
	element("email").textContent = account.email;
	element("name").textContent = account.display_name ?? "—";
	fill(
		element("passkeys"),
		account.passkeys.map((passkey) =>
			row(
				`${passkey.name}${passkey.last_used_at === null ? "" : `, last used ${when(passkey.last_used_at)}`}`,
				"Remove",
				"passkey-status",
				() => postJson(`${base}account/passkeys/${passkey.id}/remove`, {}),
			),
		),
		"No passkeys yet.",
	);
	fill(
		element("sessions"),
		account.sessions.map((session) =>
			row(
				`Signed in ${when(session.signed_in_at)}${session.client_ids.length === 0 ? "" : ` (${session.client_ids.join(", ")})`}`,
				"Sign out",
				"list-status",
				() => postJson(`${base}account/sessions/${session.id}/end`, {}),
			),
		),
		"No browser is signed in to apps.",
	);
	fill(
		element("grants"),
		account.grants.map((grant) =>
			row(`${grant.client_id}: ${grant.scopes.join(", ")}`, "Revoke", "list-status", () =>
				postJson(`${base}account/grants/${grant.id}/revoke`, {}),
			),
		),
		"No app has access.",
	);
}

// The step-up dialog: opened when an action answers step_up_required, closed by a fresh sign-in.
const dialog = element<HTMLDialogElement>("step-up");
let stepUpDone: (() => void) | null = null;

async function stepUpIfNeeded(act: () => Promise<unknown>): Promise<void> {
	try {
		await act();
	} catch (error) {
		if (!(error instanceof ApiError && error.code === "step_up_required")) throw error;
		await new Promise<void>((resolve, reject) => {
			stepUpDone = resolve;
			dialog.addEventListener(
				"close",
				() => reject(new Error("Not confirmed: nothing was done.")),
				{
					once: true,
				},
			);
			say("", false, "step-up-status");
			dialog.showModal();
			element<HTMLInputElement>("step-up-secret").focus();
		});
		await act();
	}
}

function steppedUp(): void {
	const done = stepUpDone;
	stepUpDone = null;
	done?.();
	dialog.close();
}

onSubmit(
	element<HTMLFormElement>("step-up-password"),
	async () => {
		const secret = element<HTMLInputElement>("step-up-secret");
		const answer = await opaqueLogin(account?.email ?? "", secret.value, `${base}account/login`);
		if (answer === null) {
			say(WRONG_PASSWORD, true, "step-up-status");
			secret.select();
			return;
		}
		secret.value = "";
		steppedUp();
	},
	"step-up-status",
);

const stepUpPasskey = element<HTMLFormElement>("step-up-passkey");
if (hasPasskeys()) {
	stepUpPasskey.hidden = false;
	onSubmit(
		stepUpPasskey,
		async () => {
			await passkeyLogin(`${base}account/passkey-login`, true);
			steppedUp();
		},
		"step-up-status",
	);
}

const emailForm = element<HTMLFormElement>("change-email");
onSubmit(
	emailForm,
	async () => {
		if (!emailForm.reportValidity()) return;
		const address = element<HTMLInputElement>("new-email").value;
		await stepUpIfNeeded(() => postJson(`${base}account/email`, { new_email: address }));
		say(`We sent a link to ${address}: follow it to make the change.`, false, "email-status");
	},
	"email-status",
);

const passwordForm = element<HTMLFormElement>("change-password");
onSubmit(
	passwordForm,
	async () => {
		const password = element<HTMLInputElement>("new-password");
		const repeat = element<HTMLInputElement>("repeat-password");
		if (password.value.length < MIN_LENGTH) {
			say(`The password needs at least ${MIN_LENGTH} characters.`, true, "password-status");
			password.focus();
			return;
		}
		if (repeat.value !== password.value) {
			say("The two passwords differ.", true, "password-status");
			repeat.focus();
			return;
		}
		await stepUpIfNeeded(() =>
			opaqueRegistration(
				password.value,
				async (registrationRequest) =>
					(
						await postJson<{ registration_response: string }>(`${base}account/password/start`, {
							registration_request: registrationRequest,
						})
					).registration_response,
				(registrationRecord) =>
					postJson(`${base}account/password/finish`, { registration_record: registrationRecord }),
			),
		);
		password.value = "";
		repeat.value = "";
		say("Your password is changed.", false, "password-status");
	},
	"password-status",
);

const passkeyForm = element<HTMLFormElement>("add-passkey");
if (!hasPasskeys()) {
	passkeyForm.hidden = true;
} else
	onSubmit(
		passkeyForm,
		async () => {
			if (!passkeyForm.reportValidity()) return;
			const name = element<HTMLInputElement>("passkey-name").value.trim();
			await stepUpIfNeeded(() => addPasskey(name));
			say("The passkey is added.", false, "passkey-status");
			await load();
		},
		"passkey-status",
	);

const deleteForm = element<HTMLFormElement>("delete");
onSubmit(
	deleteForm,
	async () => {
		if (!deleteForm.reportValidity()) return;
		await stepUpIfNeeded(() => postJson(`${base}account/delete`, {}));
		document.querySelectorAll("section").forEach((section) => {
			section.hidden = true;
		});
		say("Your account is deleted. You can close this page.");
	},
	"delete-status",
);

element<HTMLButtonElement>("sign-out").addEventListener("click", () => {
	postJson(`${base}account/logout`, {}).then(
		() => location.reload(),
		() => say("That did not work. Try again.", true),
	);
});

load().catch((error: unknown) => {
	say(error instanceof Error ? error.message : String(error), true);
});
