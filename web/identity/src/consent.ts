/** The consent page of an authorization: what the app asks for, allowed or denied (remembered when allowed). */
import { element, getJson, onSubmit, postJson, say } from "./api.ts";

interface ConsentPrompt {
	readonly client_name: string;
	readonly scopes: readonly { readonly scope: string; readonly description: string }[];
	readonly consent: string;
}

const form = element<HTMLFormElement>("consent");
const deny = element<HTMLButtonElement>("deny");
const answer = async (allow: boolean, prompt: ConsentPrompt) => {
	const { redirect_to: next } = await postJson<{ redirect_to: string }>(prompt.consent, { allow });
	location.assign(next);
};

getJson<ConsentPrompt>(location.pathname).then(
	(prompt) => {
		element("client").textContent = prompt.client_name;
		const list = element("scopes");
		for (const { description } of prompt.scopes) {
			const item = document.createElement("li");
			item.textContent = description;
			list.append(item);
		}
		onSubmit(form, () => answer(true, prompt));
		deny.addEventListener("click", () => {
			deny.disabled = true;
			answer(false, prompt).catch(() => {
				deny.disabled = false;
				say("That did not work. Try again.", true);
			});
		});
	},
	() => {
		form.hidden = true;
		say("This sign-in has expired: go back to the app and start again.", true);
	},
);
