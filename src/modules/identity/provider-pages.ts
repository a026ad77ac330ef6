/**
 * The pages oidc-provider renders itself (RP-initiated logout, the device flow's code entry and
 * confirmation), made ours: the identity pages' stylesheet, name and logo, no outside resources
 * (oidc-provider's pull in web fonts) and no inline script, under the same Content-Security-Policy as the
 * other pages, less `form-action` (a logout form's answer redirects to the client's site).
 */
import type { KoaContextWithOIDC } from "oidc-provider";
import { escapeHtml, PROVIDER_PAGE_HEADERS } from "./pages.ts";

export interface PageLook {
	readonly serviceName: string;
	/** The identity pages' stylesheet; null when they are not built. */
	readonly stylesheetUrl: string | null;
	readonly logoUrl: string | null;
}

/** The browser session's cookie and how long it lasts unused (provider.ts configures the same). */
export const SESSION_COOKIE = { httpOnly: true, sameSite: "lax" } as const;
export const SESSION_TTL_S = 14 * 86_400;

export function providerPages(look: PageLook) {
	const head = [
		'<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">',
		look.stylesheetUrl === null
			? ""
			: `<link rel="stylesheet" href="${escapeHtml(look.stylesheetUrl)}">`,
		look.logoUrl === null ? "" : `<link rel="icon" href="${escapeHtml(look.logoUrl)}">`,
	].join("");
	const service = `<header><p class="service">${
		look.logoUrl === null
			? ""
			: `<img class="logo" src="${escapeHtml(look.logoUrl)}" alt="" width="28" height="28">`
	}${escapeHtml(look.serviceName)}</p></header>`;
	const page = (title: string, body: string) =>
		`<!DOCTYPE html><html lang="en"><head>${head}<title>${title} · ${escapeHtml(look.serviceName)}</title></head><body><main>${service}<h1>${title}</h1>${body}</main></body></html>`;
	const show = (ctx: KoaContextWithOIDC) => {
		ctx.type = "html";
		ctx.set({ ...PROVIDER_PAGE_HEADERS });
	};

	/** RP-initiated logout asks before it ends the session; `form` is oidc-provider's, with its xsrf token. */
	async function logoutSource(ctx: KoaContextWithOIDC, form: string): Promise<void> {
		show(ctx);
		ctx.body = page(
			"Sign out",
			`${form}<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Sign out</button><button type="submit" form="op.logoutForm" class="secondary">Stay signed in</button>`,
		);
	}

	async function postLogoutSuccessSource(ctx: KoaContextWithOIDC): Promise<void> {
		show(ctx);
		ctx.body = page("Signed out", "<p>You are signed out.</p>");
	}

	/**
	 * oidc-provider 9.x fails (500, "persist can only be called on previously persisted Sessions") when a
	 * browser with no session posts the device form: the error page starts a session it never saved. Saving
	 * it here, with its cookie, turns that into the form again, which then works.
	 */
	async function keepUnsavedSession(ctx: KoaContextWithOIDC): Promise<void> {
		const { session } = ctx.oidc;
		if (session === undefined || typeof session.exp === "number") return;
		ctx.oidc.cookies.set(ctx.oidc.provider.cookieName("session"), session.jti, SESSION_COOKIE);
		await session.save(SESSION_TTL_S);
	}

	/** Device flow, step 1: the code the device shows. No inline script (oidc-provider's form has one). */
	async function userCodeInputSource(
		ctx: KoaContextWithOIDC,
		_form: string,
		_out: unknown,
		error?: Error,
	): Promise<void> {
		await keepUnsavedSession(ctx);
		const secret = String(
			(ctx.oidc.session?.state as { secret?: unknown } | undefined)?.secret ?? "",
		);
		const message =
			error === undefined
				? "<p>Enter the code your device shows.</p>"
				: error.name === "AbortedError"
					? '<p role="alert">The sign-in was cancelled.</p>'
					: "userCode" in error || error.name === "NoCodeError"
						? '<p role="alert">That code is not valid or has expired: check it and try again.</p>'
						: '<p role="alert">That did not work: start again on your device.</p>';
		show(ctx);
		ctx.body = page(
			"Connect a device",
			`${message}<form method="post" action="${escapeHtml(ctx.oidc.urlFor("code_verification"))}"><input type="hidden" name="xsrf" value="${escapeHtml(secret)}"><label>Code <input type="text" name="user_code" autocomplete="off" autocapitalize="characters" autofocus required></label><button type="submit">Continue</button></form>`,
		);
	}

	/** Device flow, step 2: which client asks, and the code again, to compare with the device's. */
	async function userCodeConfirmSource(
		ctx: KoaContextWithOIDC,
		form: string,
		client: { readonly clientId: string; readonly clientName?: string | undefined },
		_deviceInfo: unknown,
		userCode: string,
	): Promise<void> {
		show(ctx);
		ctx.body = page(
			"Connect a device",
			`<p><strong>${escapeHtml(client.clientName ?? client.clientId)}</strong> asks to sign in as you. Your device should show <code>${escapeHtml(userCode)}</code>; if it does not, or you did not start this, cancel.</p>${form}<button autofocus type="submit" form="op.deviceConfirmForm">Continue</button><button type="submit" form="op.deviceConfirmForm" name="abort" value="yes" class="secondary">Cancel</button>`,
		);
	}

	async function deviceSuccessSource(ctx: KoaContextWithOIDC): Promise<void> {
		show(ctx);
		ctx.body = page(
			"Device connected",
			"<p>Your device is signed in; you can close this page.</p>",
		);
	}

	return {
		logoutSource,
		postLogoutSuccessSource,
		userCodeInputSource,
		userCodeConfirmSource,
		deviceSuccessSource,
	};
}
