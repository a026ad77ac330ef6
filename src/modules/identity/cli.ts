/** The identity module's operator commands (described in index.ts, loaded when one runs). */
import { randomBytes } from "node:crypto";
import { systemClock } from "#lib/clock";
import { type CommandOptions, type ModuleCommandContext, usageFailure } from "../contract.ts";
import type { AccountService } from "./account-service.ts";
import type { IdentityUser } from "./account-store.ts";
import { clientMetadata, clientSpec, declaredClients, readClientJwks } from "./clients.ts";
import type { IdentityConfig } from "./config.ts";
import { KEY_CHECK_MS } from "./current-provider.ts";
import { issuerOf, openIdentity, pageUrlOf, RETIRED_KEY_PUBLISHED_MS } from "./module.ts";
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
	return pageUrlOf(issuerOf(context.section, context.config))("set-password", { token });
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

export async function invite(context: Context): Promise<number> {
	const opened = await identity(context);
	if (context.section.signup !== "invite")
		process.stderr.write(
			`tollgate: note: identity.signup is ${context.section.signup}, not invite: the sign-up page does not ask for invitations\n`,
		);
	process.stdout.write(`invite_url: ${await opened.flows.invite()}\n`);
	return 0;
}

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
		`the old keys stay published for ${RETIRED_KEY_PUBLISHED_MS / 1_000} s; every instance signs with the new ones within ${KEY_CHECK_MS / 1_000} s\n`,
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

/** Which command-line option each client field comes from, to name it in an error. */
const OPTION_OF_FIELD: Readonly<Record<string, string>> = {
	client_id: "<client_id>",
	redirect_uris: "--redirect-uri",
	post_logout_redirect_uris: "--post-logout-uri",
	grant_types: "--grant-types",
	id_token_signed_response_alg: "--id-token-alg",
	jwks_file: "--jwks",
};

export async function addClient(
	context: Context,
	[clientId = ""]: readonly string[],
	options: CommandOptions,
): Promise<number> {
	const grantTypes = listOf(options["grant-types"]);
	const jwksFile = typeof options.jwks === "string" ? options.jwks : undefined;
	const isConfidential = options.confidential === true || grantTypes.includes("client_credentials");
	const secret =
		isConfidential && jwksFile === undefined ? randomBytes(32).toString("base64url") : undefined;
	const parsed = clientSpec.safeParse({
		client_id: clientId,
		redirect_uris: listOf(options["redirect-uri"]),
		post_logout_redirect_uris: listOf(options["post-logout-uri"]),
		...(grantTypes.length === 0 ? {} : { grant_types: grantTypes }),
		id_token_signed_response_alg: options["id-token-alg"],
		client_secret: secret,
		jwks_file: jwksFile,
		first_party: options["first-party"] === true,
	});
	if (!parsed.success) {
		const [issue] = parsed.error.issues;
		const field = String(issue?.path[0] ?? "");
		return usageFailure(`${OPTION_OF_FIELD[field] ?? field}: ${issue?.message ?? "not valid"}`);
	}
	const jwks = await readClientJwks(parsed.data);
	if (typeof jwks === "string") return usageFailure(`--jwks: ${jwks}`);
	if (context.section.clients.some((declared) => declared.client_id === clientId)) {
		process.stderr.write(`tollgate: client ${clientId} is declared in identity.clients\n`);
		return 1;
	}
	const models = await clientModels(context);
	if ((await models.find(clientId)) !== undefined) {
		process.stderr.write(`tollgate: client ${clientId} exists\n`);
		return 1;
	}
	await models.upsert(clientId, { ...clientMetadata(parsed.data, jwks) });
	process.stdout.write(
		`client_id: ${clientId}\n${secret === undefined ? "" : `client_secret: ${secret}\n`}`,
	);
	return 0;
}

/** A client as the operator sees it: everything but its secret, and where it is kept. */
function describeClient(payload: Record<string, unknown>, source: "config" | "database") {
	const { client_secret: secret, ...shown } = payload;
	return { ...shown, has_secret: secret !== undefined, source };
}

async function declaredClient(context: Context, clientId: string) {
	const specs = context.section.clients.filter((declared) => declared.client_id === clientId);
	const [declared] = await declaredClients(specs);
	return declared === undefined ? undefined : { ...declared };
}

export async function listClients(context: Context): Promise<number> {
	const storage = await context.storage();
	const opened = await identity(context);
	for (const declared of await declaredClients(context.section.clients))
		process.stdout.write(`${JSON.stringify(describeClient({ ...declared }, "config"))}\n`);
	for (const payload of await listOidcModels(storage.sql.db, "Client", opened.clientSealer))
		process.stdout.write(`${JSON.stringify(describeClient(payload, "database"))}\n`);
	return 0;
}

export async function showClient(context: Context, [clientId = ""]: readonly string[]) {
	const declared = await declaredClient(context, clientId);
	const stored =
		declared === undefined ? await (await clientModels(context)).find(clientId) : undefined;
	if (declared === undefined && stored === undefined) {
		process.stderr.write(`tollgate: no client ${clientId}\n`);
		return 1;
	}
	const shown =
		declared === undefined
			? describeClient(stored ?? {}, "database")
			: describeClient(declared, "config");
	process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
	return 0;
}

export async function removeClient(context: Context, [clientId = ""]: readonly string[]) {
	if (context.section.clients.some((declared) => declared.client_id === clientId)) {
		process.stderr.write(
			`tollgate: client ${clientId} is declared in identity.clients: remove it there and restart\n`,
		);
		return 1;
	}
	const models = await clientModels(context);
	if ((await models.find(clientId)) === undefined) {
		process.stderr.write(`tollgate: no client ${clientId}\n`);
		return 1;
	}
	await models.destroy(clientId);
	process.stdout.write(`removed: ${clientId}\n`);
	return 0;
}
