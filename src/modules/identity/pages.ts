/**
 * The identity pages (web/identity, built by Vite into dist/web/identity at install or first start), held
 * in memory and served with a Content-Security-Policy that allows no inline script and nothing from
 * elsewhere: the page's own scripts, styles and API only. WebAssembly (the OPAQUE client) is allowed to
 * compile; nothing may frame a page.
 */
import { readdir, readFile } from "node:fs/promises";
import { extname, join } from "node:path";
import type { FastifyReply } from "fastify";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { AppError } from "#errors";
import { packageRoot } from "#lib/package-root";
import { binarySchema, contentResponse, errorResponses } from "../../http/openapi.ts";

export const PAGE_NAMES = [
	"sign-in",
	"sign-up",
	"check-mail",
	"reset-password",
	"set-password",
	"confirm-email",
	"consent",
	"account",
	"error",
] as const;
/** The pages a link or a button opens directly (the others answer an interaction or the account route). */
const LINKED_PAGES = [
	["sign-up", "Create an account (open, or with an invitation in the fragment)."],
	["check-mail", "After a sign-up or reset request: what to do next."],
	["reset-password", "Ask for a password reset by mail."],
	[
		"set-password",
		"The page a set-password, reset or sign-up link opens (its token in the fragment, never sent to the server but by the page's own request).",
	],
	["confirm-email", "The page an e-mail change link opens (its token in the fragment)."],
] as const satisfies readonly (readonly [PageName, string])[];
export type PageName = (typeof PAGE_NAMES)[number];

const POLICY_WITHOUT_FORMS = [
	"default-src 'none'",
	"script-src 'self' 'wasm-unsafe-eval'",
	"style-src 'self'",
	"connect-src 'self'",
	"img-src 'self'",
	"frame-ancestors 'none'",
	"base-uri 'none'",
];

const PAGE_HEADERS = {
	"content-type": "text/html; charset=utf-8",
	"content-security-policy": [...POLICY_WITHOUT_FORMS, "form-action 'self'"].join("; "),
	"x-content-type-options": "nosniff",
	"referrer-policy": "no-referrer",
	"cache-control": "no-store",
} as const;

/** For the pages oidc-provider renders: their forms' answers may redirect to a client's site. */
export const PROVIDER_PAGE_HEADERS = {
	"content-security-policy": POLICY_WITHOUT_FORMS.join("; "),
	"x-content-type-options": "nosniff",
	"referrer-policy": "no-referrer",
} as const;

const ASSET_TYPES: Readonly<Record<string, string>> = {
	".js": "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
	".svg": "image/svg+xml",
	".png": "image/png",
	".wasm": "application/wasm",
};

const HTML_ESCAPES: Readonly<Record<string, string>> = {
	"&": "&amp;",
	"<": "&lt;",
	">": "&gt;",
	'"': "&quot;",
	"'": "&#39;",
};
export const escapeHtml = (text: string) =>
	text.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char] ?? char);

interface Asset {
	readonly body: Buffer;
	readonly type: string;
}

export interface IdentityPages {
	readonly html: ReadonlyMap<PageName, string>;
	readonly assets: ReadonlyMap<string, Asset>;
	readonly logo: Asset;
	/** The stylesheet the pages link, for pages made elsewhere to look the same. */
	readonly stylesheetUrl: string | null;
}

const LOGO_TYPES: Readonly<Record<string, string>> = {
	".svg": "image/svg+xml",
	".png": "image/png",
};

/** The operator's logo (identity.logo_file), else the one beside the pages' sources. */
async function readLogo(logoFile: string | undefined): Promise<Asset> {
	const path = logoFile ?? join(packageRoot(), "web", "identity", "logo.svg");
	const type = LOGO_TYPES[extname(path).toLowerCase()];
	if (type === undefined)
		throw new Error(`identity.logo_file: ${path} must be an .svg or .png file`);
	try {
		return { body: await readFile(path), type };
	} catch (error) {
		throw new Error(
			`identity.logo_file: cannot read ${path} (${error instanceof Error ? error.message : String(error)})`,
		);
	}
}

/** The built pages with their asset links under `prefix` and the service's name in; null when not built. */
export async function loadPages(options: {
	readonly prefix: string;
	readonly serviceName: string;
	/** identity.signup: the sign-in page offers sign-up unless it is closed. */
	readonly signup: string;
	readonly logoFile: string | undefined;
}): Promise<IdentityPages | null> {
	const dir = join(packageRoot(), "dist", "web", "identity");
	const assetNames = await readdir(join(dir, "assets")).catch(() => null);
	if (assetNames === null) return null;
	const logo = await readLogo(options.logoFile);
	const base = `${options.prefix}/identity/`;
	const html = new Map<PageName, string>();
	for (const name of PAGE_NAMES) {
		const source = await readFile(join(dir, `${name}.html`), "utf8");
		html.set(
			name,
			source
				.replaceAll('"./assets/', `"${options.prefix}/identity/assets/`)
				.replaceAll("%SERVICE_NAME%", escapeHtml(options.serviceName))
				.replaceAll("%SIGNUP%", escapeHtml(options.signup))
				.replaceAll("%LOGO_URL%", `${base}logo`)
				.replaceAll("%BASE%", base),
		);
	}
	const assets = new Map<string, { body: Buffer; type: string }>();
	for (const name of assetNames) {
		const type = ASSET_TYPES[extname(name)];
		if (type !== undefined)
			assets.set(name, { body: await readFile(join(dir, "assets", name)), type });
	}
	const stylesheetUrl = /href="([^"]+\.css)"/.exec(html.get("sign-in") ?? "")?.[1] ?? null;
	return { html, assets, logo, stylesheetUrl };
}

export function sendPage(reply: FastifyReply, pages: IdentityPages, name: PageName) {
	return reply.headers({ ...PAGE_HEADERS, vary: "accept" }).send(pages.html.get(name));
}

/** The error page with its title and message: expired or tampered links, lost authorizations. */
export function sendErrorPage(
	reply: FastifyReply,
	pages: IdentityPages,
	status: number,
	title: string,
	message: string,
) {
	const html = (pages.html.get("error") ?? "")
		.replaceAll("%ERROR_TITLE%", escapeHtml(title))
		.replaceAll("%ERROR_MESSAGE%", escapeHtml(message));
	return reply
		.code(status)
		.headers({ ...PAGE_HEADERS, vary: "accept" })
		.send(html);
}

/** Whether the request is a browser's navigation (it wants a page), not the page's own API call. */
export const wantsPage = (accept: string | undefined) => accept?.includes("text/html") === true;

export const pageRoutes: FastifyPluginAsyncZod<{
	readonly pages: IdentityPages;
	readonly prefix: string;
}> = async (app, { pages, prefix }) => {
	for (const [name, summary] of LINKED_PAGES)
		app.get(
			`${prefix}/identity/${name}`,
			{
				schema: {
					tags: ["identity"],
					summary,
					response: {
						200: contentResponse("The page", "text/html", z.string()),
						...errorResponses(500),
					},
				},
			},
			async (_request, reply) => sendPage(reply, pages, name),
		);
	app.get(
		`${prefix}/identity/logo`,
		{
			schema: {
				tags: ["identity"],
				summary: "The service's logo (identity.logo_file), as the pages show it.",
				response: {
					200: contentResponse("The logo", "image/svg+xml", binarySchema),
					...errorResponses(500),
				},
			},
		},
		async (_request, reply) =>
			reply
				.headers({
					"content-type": pages.logo.type,
					"cache-control": "public, max-age=3600",
					// An SVG opened by itself runs nothing.
					"content-security-policy": "default-src 'none'; style-src 'unsafe-inline'",
					"x-content-type-options": "nosniff",
				})
				.send(pages.logo.body),
	);
	app.get(
		`${prefix}/identity/assets/:name`,
		{
			schema: {
				tags: ["identity"],
				summary: "The pages' scripts and styles (content-named: cached for good).",
				params: z.object({ name: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/) }),
				response: {
					200: contentResponse("The asset", "application/octet-stream", binarySchema),
					...errorResponses(404),
				},
			},
		},
		async (request, reply) => {
			const asset = pages.assets.get(request.params.name);
			if (asset === undefined) throw new AppError("not_found", { description: "No such asset." });
			return reply
				.headers({
					"content-type": asset.type,
					"cache-control": "public, max-age=31536000, immutable",
					"x-content-type-options": "nosniff",
				})
				.send(asset.body);
		},
	);
};
