import { migrateStorage } from "../../platform/migrations.ts";
import type { CommandContext } from "../../platform/modules.ts";
import { sqlDatabaseFor } from "../../storage/index.ts";

export async function migrate({ config }: CommandContext): Promise<number> {
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
}
