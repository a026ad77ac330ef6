/**
 * `database.create_if_missing`: the PostgreSQL database database.url names is created when the server
 * says it does not exist (SQLSTATE 3D000), through the server's `postgres` maintenance database, as
 * `createdb` would. Nothing is done to a database that exists.
 */
import pg from "pg";

const DATABASE_MISSING = "3D000";
const DUPLICATE_DATABASE = "42P04";

function codeOf(error: unknown): unknown {
	return typeof error === "object" && error !== null && "code" in error ? error.code : undefined;
}

/** Creates the database `url` names if it is missing; returns whether it did. */
export async function createPostgresDatabaseIfMissing(url: string): Promise<boolean> {
	const probe = new pg.Client({ connectionString: url });
	try {
		await probe.connect();
		return false;
	} catch (error) {
		if (codeOf(error) !== DATABASE_MISSING) throw error;
	} finally {
		await probe.end().catch(() => {});
	}
	const target = new URL(url);
	const name = decodeURIComponent(target.pathname.slice(1));
	target.pathname = "/postgres";
	const admin = new pg.Client({ connectionString: target.toString() });
	await admin.connect();
	try {
		await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
		return true;
	} catch (error) {
		// Another instance starting at the same moment created it first.
		if (codeOf(error) === DUPLICATE_DATABASE) return false;
		throw error;
	} finally {
		await admin.end();
	}
}
