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

export async function getJson<T>(url: string): Promise<T> {
	const response = await fetch(url, {
		headers: { accept: "application/json" },
		credentials: "same-origin",
	});
	const payload = (await response.json().catch(() => ({}))) as Record<string, unknown>;
	if (!response.ok)
		throw new ApiError(
			response.status,
			String(payload.error ?? "server_error"),
			String(payload.error_description ?? "Something went wrong. Try again."),
			null,
		);
	return payload as T;
}

/** Where the identity routes live (the issuer's path + /identity/), whichever page this is. */
export function identityBase(): string {
	const marker = "/identity/";
	const at = location.pathname.indexOf(marker);
	return at < 0 ? marker : location.pathname.slice(0, at + marker.length);
}

/** A value from the page's fragment (links carry their tokens there: no server log sees them). */
export function fragmentValue(name: string): string | null {
	return new URLSearchParams(location.hash.slice(1)).get(name);
}

export function element<T extends HTMLElement>(id: string): T {
	const found = document.getElementById(id);
	if (found === null) throw new Error(`the page has no #${id}`);
	return found as T;
}

/** Shows `text` in the page's live status line (or `statusId`'s); errors are announced and styled as such. */
export function say(text: string, isError = false, statusId = "status"): void {
	const status = element(statusId);
	status.textContent = text;
	status.classList.toggle("error", isError);
	status.setAttribute("role", isError ? "alert" : "status");
}

/** Runs `work` once per submit: the button stays disabled until it is done, so a double click sends once. */
export function onSubmit(
	form: HTMLFormElement,
	work: () => Promise<void>,
	statusId = "status",
): void {
	const button = form.querySelector("button[type=submit]") as HTMLButtonElement | null;
	form.addEventListener("submit", (event) => {
		event.preventDefault();
		if (button?.disabled === true) return;
		if (button !== null) button.disabled = true;
		work()
			.catch((error: unknown) => {
				say(messageOf(error), true, statusId);
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
	if (error instanceof Error && error.name === "NotAllowedError")
		return "The passkey was not used: it was cancelled or timed out.";
	// fetch fails with a TypeError when the network does; the pages' own errors say what happened.
	if (error instanceof TypeError || !(error instanceof Error))
		return "The server could not be reached. Check your connection and try again.";
	return error.message;
}
