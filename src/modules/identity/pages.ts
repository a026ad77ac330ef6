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

export const PAGE_NAMES = ["sign-in", "set-password"] as const;
export type PageName = (typeof PAGE_NAMES)[number];

const CONTENT_SECURITY_POLICY = [
	"default-src 'none'",
	"script-src 'self' 'wasm-unsafe-eval'",
	"style-src 'self'",
	"connect-src 'self'",
	"img-src 'self'",
	"form-action 'self'",
	"frame-ancestors 'none'",
	"base-uri 'none'",
].join("; ");

const PAGE_HEADERS = {
	"content-type": "text/html; charset=utf-8",
	"content-security-policy": CONTENT_SECURITY_POLICY,
	"x-content-type-options": "nosniff",
	"referrer-policy": "no-referrer",
	"cache-control": "no-store",
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

export interface IdentityPages {
	readonly html: ReadonlyMap<PageName, string>;
	readonly assets: ReadonlyMap<string, { readonly body: Buffer; readonly type: string }>;
}

/** The built pages with their asset links under `prefix` and the service's name in; null when not built. */
export async function loadPages(options: {
	readonly prefix: string;
	readonly serviceName: string;
}): Promise<IdentityPages | null> {
	const dir = join(packageRoot(), "dist", "web", "identity");
	const assetNames = await readdir(join(dir, "assets")).catch(() => null);
	if (assetNames === null) return null;
	const html = new Map<PageName, string>();
	for (const name of PAGE_NAMES) {
		const source = await readFile(join(dir, `${name}.html`), "utf8");
		html.set(
			name,
			source
				.replaceAll('"./assets/', `"${options.prefix}/identity/assets/`)
				.replaceAll("%SERVICE_NAME%", escapeHtml(options.serviceName)),
		);
	}
	const assets = new Map<string, { body: Buffer; type: string }>();
	for (const name of assetNames) {
		const type = ASSET_TYPES[extname(name)];
		if (type !== undefined)
			assets.set(name, { body: await readFile(join(dir, "assets", name)), type });
	}
	return { html, assets };
}

export function sendPage(reply: FastifyReply, pages: IdentityPages, name: PageName) {
	return reply.headers({ ...PAGE_HEADERS, vary: "accept" }).send(pages.html.get(name));
}

/** Whether the request is a browser's navigation (it wants a page), not the page's own API call. */
export const wantsPage = (accept: string | undefined) => accept?.includes("text/html") === true;

export const pageRoutes: FastifyPluginAsyncZod<{
	readonly pages: IdentityPages;
	readonly prefix: string;
}> = async (app, { pages, prefix }) => {
	app.get(
		`${prefix}/identity/set-password`,
		{
			schema: {
				tags: ["identity"],
				summary:
					"The page a set-password link opens (its token in the fragment, never sent to the server).",
				response: {
					200: contentResponse("The page", "text/html", z.string()),
					...errorResponses(500),
				},
			},
		},
		async (_request, reply) => sendPage(reply, pages, "set-password"),
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
