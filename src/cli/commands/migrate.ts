import { migrateStorage } from "../../platform/migrations.ts";
import type { CommandContext } from "../../platform/modules.ts";
import { prepareDatabase, sqlDatabaseFor } from "../../storage/index.ts";
import { startupFailureOf } from "../startup-failure.ts";

export async function migrate({ config }: CommandContext): Promise<number> {
	try {
		await prepareDatabase(config);
		const sql = sqlDatabaseFor(config);
		try {
			const { applied } = await migrateStorage({ sql });
			process.stdout.write(
				applied.length === 0 ? "database is up to date\n" : `applied: ${applied.join(", ")}\n`,
			);
			return 0;
		} finally {
			await sql.close();
		}
	} catch (error) {
		const failure = startupFailureOf(error, config);
		if (failure === null) throw error;
		process.stderr.write(`tollgate: ${failure.reason}\n`);
		return failure.exitCode;
	}
}
