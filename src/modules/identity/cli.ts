/** The identity module's operator commands (described in index.ts, loaded when one runs). */
import { systemClock } from "#lib/clock";
import type { CommandOptions, ModuleCommandContext } from "../contract.ts";
import type { AccountService } from "./account-service.ts";
import type { IdentityUser } from "./account-store.ts";
import type { IdentityConfig } from "./config.ts";
import { issuerOf, openAccounts } from "./module.ts";

type Context = ModuleCommandContext<IdentityConfig>;

const ROLE = /^[A-Za-z0-9_.:-]{1,64}$/;
const EMAIL = /^[^\s@]+@[^\s@]+$/;

function usageFailure(reason: string): number {
	process.stderr.write(`tollgate: ${reason}\n`);
	return 2;
}

async function accounts(context: Context): Promise<AccountService> {
	return openAccounts({
		section: context.section,
		config: context.config,
		storage: await context.storage(),
		clock: systemClock,
		logger: context.logger,
	});
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
	const url = new URL(
		`${issuerOf(context.section, context.config).pathname.replace(/\/+$/, "")}/identity/set-password`,
		issuerOf(context.section, context.config),
	);
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
