/**
 * Dated copies of the SQLite database (what the Session Pro backend did for its SQLite deployments), made
 * with SQLite's online backup so writers never wait, and rotated: every copy of the last 180 days, and
 * before that the first copy of each month.
 */
import { mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";

const KEEP_ALL_FOR_MS = 180 * 86_400_000;
const BACKUP_NAME = /^(\d{4})-(\d{2})-(\d{2})_(\d{2})(\d{2})(\d{2})_.+\.bak$/;

/** `2026-11-24_063000_tollgate.db.bak`: sortable, and the time it was taken is in the name. */
export function backupFileName(atMs: number, databaseName: string): string {
	const iso = new Date(atMs).toISOString();
	return `${iso.slice(0, 10)}_${iso.slice(11, 19).replaceAll(":", "")}_${databaseName}.bak`;
}

function takenAtMs(name: string): number | null {
	const match = BACKUP_NAME.exec(name);
	if (match === null) return null;
	const [, year, month, day, hour, minute, second] = match.map(Number);
	return Date.UTC(year ?? 0, (month ?? 1) - 1, day, hour, minute, second);
}

/** Which backups rotation removes: older than 180 days and not the first of their month. */
export function backupsToDelete(names: readonly string[], nowMs: number): string[] {
	const dated = names
		.map((name) => ({ name, atMs: takenAtMs(name) }))
		.filter((entry): entry is { name: string; atMs: number } => entry.atMs !== null)
		.sort((a, b) => a.atMs - b.atMs);
	const monthsSeen = new Set<string>();
	const doomed: string[] = [];
	for (const { name, atMs } of dated) {
		const month = new Date(atMs).toISOString().slice(0, 7);
		const firstOfMonth = !monthsSeen.has(month);
		monthsSeen.add(month);
		if (!firstOfMonth && atMs < nowMs - KEEP_ALL_FOR_MS) doomed.push(name);
	}
	return doomed;
}

/** Writes today's backup into `directory`, then rotates; returns the new file's path. */
export async function backUpSqlite(
	backupTo: (path: string) => Promise<void>,
	directory: string,
	databaseName: string,
	nowMs: number,
): Promise<string> {
	await mkdir(directory, { recursive: true });
	const path = join(directory, backupFileName(nowMs, databaseName));
	await backupTo(path);
	for (const name of backupsToDelete(await readdir(directory), nowMs))
		await rm(join(directory, name), { force: true });
	return path;
}
