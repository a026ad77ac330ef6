/**
 * The identity module started: its sealed secrets opened, the account service and its API, the account
 * flows by mail and the account page, passkeys, the OpenID Connect provider on those accounts, the pages,
 * and the leased jobs (expired provider models swept, retired signing keys dropped once their tokens have
 * expired).
 */
import { randomBytes } from "node:crypto";
import { join, resolve } from "node:path";
import type { Logger } from "pino";
import type { FoundationConfig } from "#config";
import type { Clock } from "#lib/clock";
import type { ServiceKeys } from "../../keys/service-keys.ts";
import type { Storage } from "../../storage/index.ts";
import type { ModuleImplementation } from "../contract.ts";
import { AccountFlows } from "./account-flows.ts";
import { AccountLinks } from "./account-links.ts";
import { accountRoutes } from "./account-routes.ts";
import { AccountService } from "./account-service.ts";
import { AccountSessions } from "./account-sessions.ts";
import type { AccountStore } from "./account-store.ts";
import { declaredClients } from "./clients.ts";
import type { IdentityConfig } from "./config.ts";
import { CurrentProvider } from "./current-provider.ts";
import { createMailer, type Mailer } from "./mail.ts";
import { oidcRoutes } from "./oidc-routes.ts";
import { loadPages, pageRoutes } from "./pages.ts";
import { Passkeys } from "./passkeys.ts";
import { createProvider, TOKEN_LIFETIMES } from "./provider.ts";
import { AttemptLimiter } from "./rate-limit.ts";
import { identityRoutes } from "./routes.ts";
import { resolveSecretsKey, type SecretsKey, textSealer } from "./secrets-key.ts";
import { SigningKeys } from "./signing-keys.ts";
import { SqlAccountStore } from "./storage/sql-account-store.ts";
import type { PayloadSealer } from "./storage/sql-oidc-adapter.ts";
import { sweepExpiredOidcModels } from "./storage/sql-oidc-adapter.ts";
import { SqlSigningKeyStore } from "./storage/sql-signing-keys.ts";

const HOUR_MS = 3_600_000;
const SWEEP_INTERVAL_MS = 15 * 60_000;
const COOKIE_KEYS_NAME = "oidc_cookie_keys";
const CLIENT_RECORDS_NAME = "oidc_client";
/** A retired key stays published while any token it signed may still be presented. */
export const RETIRED_KEY_PUBLISHED_MS =
	(Math.max(TOKEN_LIFETIMES.idToken, TOKEN_LIFETIMES.accessToken) + TOKEN_LIFETIMES.leeway) * 1_000;

/** `identity.issuer`, else the address the service listens on. */
export function issuerOf(section: IdentityConfig, config: FoundationConfig): URL {
	return new URL(section.issuer ?? `http://${config.http.host}:${config.http.port}`);
}

/** The issuer's path, without a trailing slash: every identity route lives below it. */
export function routePrefixOf(issuer: URL): string {
	return issuer.pathname.replace(/\/+$/, "");
}

/** The public URL of one of the identity pages, with values in its fragment (never sent to a server). */
export function pageUrlOf(issuer: URL) {
	return (page: string, fragment?: Readonly<Record<string, string>>): string => {
		const url = new URL(`${routePrefixOf(issuer)}/identity/${page}`, issuer);
		if (fragment !== undefined) url.hash = new URLSearchParams(fragment).toString();
		return url.toString();
	};
}

interface OpenedIdentity {
	readonly accounts: AccountService;
	readonly flows: AccountFlows;
	readonly sessions: AccountSessions;
	/** Its mails in flight are awaited on stop. */
	readonly mailer: Mailer;
	readonly store: AccountStore;
	readonly secretsKey: SecretsKey;
	readonly signingKeys: SigningKeys;
	/** Seals client records (their secrets), for the provider and the clients commands alike. */
	readonly clientSealer: PayloadSealer;
}

export async function openIdentity(options: {
	readonly section: IdentityConfig;
	readonly config: FoundationConfig;
	readonly storage: Pick<Storage, "sql" | "kv">;
	readonly serviceKeys: ServiceKeys;
	readonly clock: Clock;
	readonly logger: Logger;
}): Promise<OpenedIdentity> {
	const { section, config, storage, clock, logger } = options;
	const store = new SqlAccountStore(storage.sql.db);
	const secretsKey = resolveSecretsKey({
		configured: section.secrets_key,
		isDev: config.dev,
		serviceKeys: options.serviceKeys,
		logger,
	});
	const links = new AccountLinks(storage.kv);
	const sessions = new AccountSessions(storage.kv, clock);
	const accounts = await AccountService.open({
		store,
		kv: storage.kv,
		links,
		sessions,
		secretsKey,
		clock,
		setPasswordLinkMs: section.set_password_link_hours * HOUR_MS,
	});
	const signingKeys = new SigningKeys(new SqlSigningKeyStore(storage.sql.db), secretsKey);
	const issuer = issuerOf(section, config);
	const mailer = createMailer({
		smtpUrl: section.smtp_url,
		from:
			section.mail_from ??
			`"${section.service_name.replace(/["\\]/g, "")}" <no-reply@${issuer.hostname}>`,
		serviceName: section.service_name,
		mailDir: join(resolve(config.data_dir), "mail"),
		isDev: config.dev,
		logger,
	});
	const flows = new AccountFlows({
		store,
		links,
		mailer,
		signup: section.signup,
		linkMs: section.mail_link_minutes * 60_000,
		inviteMs: section.set_password_link_hours * HOUR_MS,
		serviceName: section.service_name,
		clock,
		pageUrl: pageUrlOf(issuer),
	});
	return {
		accounts,
		flows,
		sessions,
		mailer,
		store,
		secretsKey,
		signingKeys,
		clientSealer: textSealer(secretsKey, CLIENT_RECORDS_NAME),
	};
}

/** The keys oidc-provider signs its cookies with, made by the first instance, sealed like the rest. */
async function cookieKeys(opened: OpenedIdentity, nowMs: number): Promise<string[]> {
	const fresh = opened.secretsKey.seal(COOKIE_KEYS_NAME, randomBytes(32));
	const sealed = await opened.store.sealedSecret(COOKIE_KEYS_NAME, fresh, nowMs);
	const key = opened.secretsKey.openStored(COOKIE_KEYS_NAME, sealed, "the provider's cookie key");
	return [key.toString("base64url")];
}

export const implementation: ModuleImplementation<IdentityConfig> = {
	async register({ section, config, app, storage, keys, clock, logger, registerJob }) {
		const opened = await openIdentity({
			section,
			config,
			storage,
			serviceKeys: keys,
			clock,
			logger,
		});
		app.addHook("onClose", () => opened.mailer.idle());
		registerJob({
			name: "identity.sweep",
			intervalMs: SWEEP_INTERVAL_MS,
			run: async ({ nowMs }) => {
				await sweepExpiredOidcModels(storage.sql.db, nowMs);
				await opened.signingKeys.dropExpired(nowMs);
			},
		});
		const issuer = issuerOf(section, config);
		const prefix = routePrefixOf(issuer);
		const windowMs = section.attempt_window_seconds * 1_000;
		const limiter = new AttemptLimiter(storage.kv);
		await app.register(identityRoutes, {
			accounts: opened.accounts,
			flows: opened.flows,
			prefix,
			limits: {
				limiter,
				perAccount: { attempts: section.attempts_per_account, windowMs },
				perAddress: { attempts: section.attempts_per_address, windowMs },
			},
		});
		const pages = await loadPages({
			prefix,
			serviceName: section.service_name,
			signup: section.signup,
			logoFile: section.logo_file,
		});
		if (pages === null)
			logger.warn(
				"the identity pages are not built (dist/web/identity): browsers get the JSON API only; run npm install",
			);
		else await app.register(pageRoutes, { pages, prefix });
		await opened.signingKeys.ensure(clock.nowMs());
		const providerCookieKeys = await cookieKeys(opened, clock.nowMs());
		const configuredClients = await declaredClients(section.clients);
		const buildProvider = async () =>
			createProvider({
				issuer,
				db: storage.sql.db,
				kv: storage.kv,
				accounts: opened.store,
				jwks: await opened.signingKeys.privateJwks(),
				cookieKeys: providerCookieKeys,
				clock,
				logger,
				interactionPath: (uid) => `${prefix}/identity/interaction/${uid}`,
				trustProxy: config.http.trust_proxy,
				resources: section.resources,
				clientSealer: opened.clientSealer,
				configuredClients,
				look: {
					serviceName: section.service_name,
					stylesheetUrl: pages?.stylesheetUrl ?? null,
					logoUrl: pages === null ? null : `${prefix}/identity/logo`,
				},
			});
		const providers = await CurrentProvider.start(opened.signingKeys, clock, buildProvider);
		const passkeys = new Passkeys({
			store: opened.store,
			kv: storage.kv,
			clock,
			serviceName: section.service_name,
			issuer,
		});
		await app.register(accountRoutes, {
			accounts: opened.accounts,
			flows: opened.flows,
			sessions: opened.sessions,
			passkeys,
			store: opened.store,
			pages,
			prefix,
			issuer,
			clock,
		});
		await app.register(oidcRoutes, {
			providers,
			accounts: opened.accounts,
			clock,
			store: opened.store,
			passkeys,
			pages,
			prefix,
			tokenLimit: {
				limiter,
				perAddress: { attempts: section.token_requests_per_address, windowMs },
			},
		});
		return {};
	},
};
