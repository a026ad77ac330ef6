/**
 * What a command runs with: the config, a logger on stderr, and stores opened on first use (the storage
 * code itself loaded only then), closed after the command.
 */
import { pino } from "pino";
import { systemClock } from "#lib/clock";
import { createLogger } from "../http/logger.ts";
import type { ServiceKeys } from "../keys/service-keys.ts";
import type { Config } from "../platform/config.ts";
import type { CommandContext } from "../platform/modules.ts";
import type { SqlDatabase, Storage } from "../storage/index.ts";

/** Remembers one opening, so a command that asks twice gets the same store. */
function once<T>(open: () => Promise<T>): { get(): Promise<T>; opened(): Promise<T> | undefined } {
	let opening: Promise<T> | undefined;
	return {
		get: () => {
			opening ??= open();
			return opening;
		},
		opened: () => opening,
	};
}

export function commandContext(config: Config): CommandContext & { close(): Promise<void> } {
	// One-shot commands print their result on stdout; their logs go to stderr.
	const logger = createLogger(config, pino.destination(2));
	const storageCode = () =>
		Promise.all([import("../storage/index.ts"), import("../platform/migrations.ts")]);
	const database = once(async (): Promise<SqlDatabase> => {
		const [{ sqlDatabaseFor }, { migrateStorage }] = await storageCode();
		const sql = sqlDatabaseFor(config, logger);
		await migrateStorage({ sql });
		return sql;
	});
	const storage = once(async (): Promise<Storage> => {
		const [{ openStorage }, { migrateStorage }] = await storageCode();
		const opened = await openStorage(config, systemClock, logger);
		await migrateStorage(opened);
		return opened;
	});
	const secrets = async () => {
		const [{ SqlSecretStore }] = await storageCode();
		return new SqlSecretStore((await database.get()).db);
	};
	const keys = once(async (): Promise<ServiceKeys> => {
		const { loadConfiguredServiceKeys } = await import("../keys/service-keys.ts");
		return loadConfiguredServiceKeys(config, await secrets(), systemClock, logger);
	});
	return {
		config,
		logger,
		database: database.get,
		storage: storage.get,
		secrets,
		keys: keys.get,
		close: async () => {
			// A store that failed to open has nothing to close; the command already failed with that reason.
			const ignore = () => {};
			await Promise.all([
				database.opened()?.then((sql) => sql.close(), ignore),
				storage.opened()?.then((opened) => opened.close(), ignore),
			]);
		},
	};
}
