/** The identity module's operator commands (described in index.ts, loaded when one runs). */
import { randomBytes } from "node:crypto";
import { systemClock } from "#lib/clock";
import { type CommandOptions, type ModuleCommandContext, usageFailure } from "../contract.ts";
import type { AccountService } from "./account-service.ts";
import type { IdentityUser } from "./account-store.ts";
import type { IdentityConfig } from "./config.ts";
import { issuerOf, openIdentity, RETIRED_KEY_PUBLISHED_MS, routePrefixOf } from "./module.ts";
import { SIGNING_ALGORITHMS } from "./signing-keys.ts";
import { listOidcModels, SqlOidcAdapter } from "./storage/sql-oidc-adapter.ts";

type Context = ModuleCommandContext<IdentityConfig>;

const ROLE = /^[A-Za-z0-9_.:-]{1,64}$/;
const EMAIL = /^[^\s@]+@[^\s@]+$/;

async function accounts(context: Context): Promise<AccountService> {
	return (await identity(context)).accounts;
}

function describe(user: IdentityUser) {
	return {
		id: user.id,
		email: user.email,
		email_verified: user.emailVerified,
		display_name: user.displayName,
		roles: user.roles,
		disabled: user.disabledAtMs !== null,
		created_at: new Date(user.createdAtMs).toISOString(),
		updated_at: new Date(user.updatedAtMs).toISOString(),
	};
}

function setPasswordUrl(context: Context, token: string): string {
	const issuer = issuerOf(context.section, context.config);
	const url = new URL(`${routePrefixOf(issuer)}/identity/set-password`, issuer);
	url.hash = `token=${token}`;
	return url.toString();
}

export async function addUser(
	context: Context,
	[email = ""]: readonly string[],
	options: CommandOptions,
): Promise<number> {
	if (!EMAIL.test(email) || email.length > 320)
		return usageFailure(`<email> must be an e-mail address, got '${email}'`);
	const roles =
		typeof options.role === "string" ? options.role.split(",").map((role) => role.trim()) : [];
	const badRole = roles.find((role) => !ROLE.test(role));
	if (badRole !== undefined)
		return usageFailure(`--role must be letters, digits and _.:- (at most 64), got '${badRole}'`);
	const added = await (await accounts(context)).addUser({
		email,
		displayName: typeof options.name === "string" ? options.name : null,
		roles,
	});
	if (added === null) {
		process.stderr.write(`tollgate: a user with e-mail ${email.trim().toLowerCase()} exists\n`);
		return 1;
	}
	process.stdout.write(
		`user_id: ${added.user.id}\nset_password_url: ${setPasswordUrl(context, added.setPasswordToken)}\n`,
	);
	return 0;
}

async function findOrFail(
	service: AccountService,
	reference: string,
): Promise<IdentityUser | null> {
	const user = await service.findUser(reference);
	if (user === null) process.stderr.write(`tollgate: no user ${reference}\n`);
	return user;
}

export async function listUsers(context: Context): Promise<number> {
	for (const user of await (await accounts(context)).listUsers())
		process.stdout.write(`${JSON.stringify(describe(user))}\n`);
	return 0;
}

export async function showUser(context: Context, [reference = ""]: readonly string[]) {
	const user = await findOrFail(await accounts(context), reference);
	if (user === null) return 1;
	process.stdout.write(`${JSON.stringify(describe(user), null, 2)}\n`);
	return 0;
}

export async function passwordLink(context: Context, [reference = ""]: readonly string[]) {
	const service = await accounts(context);
	const user = await findOrFail(service, reference);
	if (user === null) return 1;
	const token = await service.issueSetPasswordToken(user.id);
	process.stdout.write(`set_password_url: ${setPasswordUrl(context, token)}\n`);
	return 0;
}

function disabling(isDisabled: boolean) {
	return async (context: Context, [reference = ""]: readonly string[]) => {
		const service = await accounts(context);
		const user = await findOrFail(service, reference);
		if (user === null) return 1;
		await service.setDisabled(user.id, isDisabled);
		process.stdout.write(`${isDisabled ? "disabled" : "enabled"}: ${user.id}\n`);
		return 0;
	};
}

export const disableUser = disabling(true);
export const enableUser = disabling(false);

function roleChange(isMember: boolean) {
	return async (context: Context, [reference = "", role = ""]: readonly string[]) => {
		if (!ROLE.test(role))
			return usageFailure(`<role> must be letters, digits and _.:- (at most 64), got '${role}'`);
		const service = await accounts(context);
		const user = await findOrFail(service, reference);
		if (user === null) return 1;
		await service.setRole(user.id, role, isMember);
		const updated = await service.findUser(user.id);
		process.stdout.write(`roles: ${(updated?.roles ?? []).join(",")}\n`);
		return 0;
	};
}

export const addRole = roleChange(true);
export const removeRole = roleChange(false);

const CLIENT_ID = /^[A-Za-z0-9_.:-]{1,128}$/;
const DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";
const GRANT_TYPES = [
	"authorization_code",
	"refresh_token",
	"client_credentials",
	DEVICE_CODE_GRANT,
] as const;

async function identity(context: Context) {
	return openIdentity({
		section: context.section,
		config: context.config,
		storage: await context.storage(),
		serviceKeys: await context.keys(),
		clock: systemClock,
		logger: context.logger,
	});
}

/** Client records as the provider reads them: sealed at rest (a confidential client's secret). */
async function clientModels(context: Context) {
	const [storage, opened] = [await context.storage(), await identity(context)];
	return new SqlOidcAdapter(storage.sql.db, "Client", systemClock, { sealer: opened.clientSealer });
}

export async function rotateKeys(context: Context): Promise<number> {
	const opened = await identity(context);
	const created = await opened.signingKeys.rotate(systemClock.nowMs(), RETIRED_KEY_PUBLISHED_MS);
	for (const key of created) process.stdout.write(`${key.alg}: ${key.kid}\n`);
	process.stdout.write(
		`the old keys stay published for ${RETIRED_KEY_PUBLISHED_MS / 1_000} s; restart every instance to sign with the new ones\n`,
	);
	return 0;
}

const listOf = (value: CommandOptions[string]) =>
	typeof value === "string"
		? value
				.split(",")
				.map((item) => item.trim())
				.filter(Boolean)
		: [];

export async function addClient(
	context: Context,
	[clientId = ""]: readonly string[],
	options: CommandOptions,
): Promise<number> {
	if (!CLIENT_ID.test(clientId))
		return usageFailure(
			`<client_id> must be letters, digits and _.:- (at most 128), got '${clientId}'`,
		);
	const redirectUris = listOf(options["redirect-uri"]);
	const badUri = redirectUris.find((uri) => !URL.canParse(uri) || new URL(uri).hash !== "");
	if (badUri !== undefined)
		return usageFailure(`--redirect-uri must be absolute URLs without a fragment, got '${badUri}'`);
	const grantTypes = listOf(options["grant-types"]);
	const chosen = grantTypes.length === 0 ? ["authorization_code", "refresh_token"] : grantTypes;
	const badGrant = chosen.find((grant) => !(GRANT_TYPES as readonly string[]).includes(grant));
	if (badGrant !== undefined)
		return usageFailure(`--grant-types: unknown grant type '${badGrant}'`);
	if (chosen.includes("authorization_code") && redirectUris.length === 0)
		return usageFailure("--redirect-uri is required for the authorization_code grant");
	const requestedAlg = options["id-token-alg"];
	const idTokenAlg = SIGNING_ALGORITHMS.find((alg) => alg === requestedAlg);
	if (requestedAlg !== undefined && idTokenAlg === undefined)
		return usageFailure(`--id-token-alg must be EdDSA, ES256 or RS256, got '${requestedAlg}'`);
	const isConfidential = options.confidential === true || chosen.includes("client_credentials");
	const models = await clientModels(context);
	if ((await models.find(clientId)) !== undefined) {
		process.stderr.write(`tollgate: client ${clientId} exists\n`);
		return 1;
	}
	const secret = isConfidential ? randomBytes(32).toString("base64url") : undefined;
	await models.upsert(clientId, {
		client_id: clientId,
		...(secret === undefined
			? { token_endpoint_auth_method: "none" }
			: { client_secret: secret, token_endpoint_auth_method: "client_secret_basic" }),
		redirect_uris: redirectUris,
		post_logout_redirect_uris: listOf(options["post-logout-uri"]),
		grant_types: chosen,
		response_types: chosen.includes("authorization_code") ? ["code"] : [],
		...(idTokenAlg === undefined ? {} : { id_token_signed_response_alg: idTokenAlg }),
	});
	process.stdout.write(
		`client_id: ${clientId}\n${secret === undefined ? "" : `client_secret: ${secret}\n`}`,
	);
	return 0;
}

/** A client as the operator sees it: everything but its secret. */
function describeClient(payload: Record<string, unknown>) {
	const { client_secret: secret, ...shown } = payload;
	return { ...shown, has_secret: secret !== undefined };
}

export async function listClients(context: Context): Promise<number> {
	const storage = await context.storage();
	const opened = await identity(context);
	for (const payload of await listOidcModels(storage.sql.db, "Client", opened.clientSealer))
		process.stdout.write(`${JSON.stringify(describeClient(payload))}\n`);
	return 0;
}

export async function showClient(context: Context, [clientId = ""]: readonly string[]) {
	const found = await (await clientModels(context)).find(clientId);
	if (found === undefined) {
		process.stderr.write(`tollgate: no client ${clientId}\n`);
		return 1;
	}
	process.stdout.write(`${JSON.stringify(describeClient(found), null, 2)}\n`);
	return 0;
}

export async function removeClient(context: Context, [clientId = ""]: readonly string[]) {
	const models = await clientModels(context);
	if ((await models.find(clientId)) === undefined) {
		process.stderr.write(`tollgate: no client ${clientId}\n`);
		return 1;
	}
	await models.destroy(clientId);
	process.stdout.write(`removed: ${clientId}\n`);
	return 0;
}
