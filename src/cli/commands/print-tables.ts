import { sql } from "kysely";
import type { CommandContext } from "../../platform/modules.ts";

/** Byte columns hold keys and blob data: print their length, never their content. */
function printable(row: Record<string, unknown>): Record<string, unknown> {
	return Object.fromEntries(
		Object.entries(row).map(([column, value]) => [
			column,
			value instanceof Uint8Array ? `<${value.byteLength} bytes>` : value,
		]),
	);
}

export async function printTables(context: CommandContext): Promise<number> {
	const { db } = await context.database();
	const tables = await db.introspection.getTables();
	for (const table of tables.sort((left, right) => left.name.localeCompare(right.name))) {
		const { rows } = await sql<
			Record<string, unknown>
		>`select * from ${sql.table(table.name)}`.execute(db);
		process.stdout.write(`${table.name} (${rows.length} ${rows.length === 1 ? "row" : "rows"})\n`);
		for (const row of rows) process.stdout.write(`  ${JSON.stringify(printable(row))}\n`);
	}
	return 0;
}
