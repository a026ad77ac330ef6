/** What the pages share: posting JSON to the identity API, and telling the user how it went. */
import "./style.css";

export class ApiError extends Error {
	readonly status: number;
	readonly code: string;
	readonly retryAfterSeconds: number | null;

	constructor(status: number, code: string, description: string, retryAfterSeconds: number | null) {
		super(description);
		this.status = status;
		this.code = code;
		this.retryAfterSeconds = retryAfterSeconds;
	}
}

export async function postJson<T>(url: string, body: unknown): Promise<T> {
	const response = await fetch(url, {
		method: "POST",
		headers: { "content-type": "application/json", accept: "application/json" },
		body: JSON.stringify(body),
		credentials: "same-origin",
	});
	if (response.status === 204) return undefined as T;
	const payload = (await response.json().catch(() => ({}))) as Record<string, unknown>;
	if (!response.ok) {
		const retryAfter = Number(response.headers.get("retry-after"));
		throw new ApiError(
			response.status,
			String(payload.error ?? "server_error"),
			String(payload.error_description ?? "Something went wrong. Try again."),
			Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : null,
		);
	}
	return payload as T;
}

export function element<T extends HTMLElement>(id: string): T {
	const found = document.getElementById(id);
	if (found === null) throw new Error(`the page has no #${id}`);
	return found as T;
}

/** Shows `text` in the page's live status line; errors are announced and styled as such. */
export function say(text: string, isError = false): void {
	const status = element("status");
	status.textContent = text;
	status.classList.toggle("error", isError);
	status.setAttribute("role", isError ? "alert" : "status");
}

/** Runs `work` once per submit: the button stays disabled until it is done, so a double click sends once. */
export function onSubmit(form: HTMLFormElement, work: () => Promise<void>): void {
	const button = form.querySelector("button[type=submit]") as HTMLButtonElement | null;
	form.addEventListener("submit", (event) => {
		event.preventDefault();
		if (button?.disabled === true) return;
		if (button !== null) button.disabled = true;
		work()
			.catch((error: unknown) => {
				say(messageOf(error), true);
			})
			.finally(() => {
				if (button !== null) button.disabled = false;
			});
	});
}

export function messageOf(error: unknown): string {
	if (error instanceof ApiError && error.status === 429) {
		const minutes = Math.max(1, Math.ceil((error.retryAfterSeconds ?? 60) / 60));
		return `Too many attempts. Try again in ${minutes} minute${minutes === 1 ? "" : "s"}.`;
	}
	// fetch fails with a TypeError when the network does; the pages' own errors say what happened.
	if (error instanceof TypeError || !(error instanceof Error))
		return "The server could not be reached. Check your connection and try again.";
	return error.message;
}
