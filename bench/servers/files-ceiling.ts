/**
 * The ceiling of any Node file server storing what Tollgate stores, the way it stores it: raw node:http, no
 * framework, logs or metrics. GET /file/<id> is one indexed read and the bytes (inline in the row up to
 * 64 KiB, else a file; on PostgreSQL always in the row), /file/<id>/info the read alone, POST /file receives the body while hashing it with
 * the same BLAKE2b, then one insert (with the bytes inline, or after writing, fsyncing and renaming the file).
 * The same headers as Tollgate's answers. Argument 2: `sqlite <data dir>` or `postgres <database URL>`.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { closeSync, fsyncSync, mkdirSync, openSync } from "node:fs";
import { open, readFile, rename } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { join } from "node:path";
import SqliteDatabase from "better-sqlite3";
import pg from "pg";
import { fileIdHasher } from "../../src/modules/files/file-id.ts";
import { listenAndAnnounce } from "./announce.ts";

const TTL_MS = 1_814_400_000;
const [, , , engine = "sqlite", where = ""] = process.argv;
// On PostgreSQL the bench runs Tollgate with database blobs (as the original keeps them): every file's
// bytes live in the database here too, so both rows read the same amount from PostgreSQL.
const INLINE_MAX_BYTES = engine === "postgres" ? Number.POSITIVE_INFINITY : 64 * 1024;

interface Row {
	readonly size: number;
	readonly expires: number;
	readonly data: Buffer | null;
	readonly path: string | null;
}

interface Store {
	find(id: string, withData: boolean): Promise<Row | undefined>;
	insert(
		id: string,
		size: number,
		expires: number,
		data: Buffer | null,
		path: string | null,
	): Promise<void>;
}

function sqliteStore(dataDir: string): Store {
	mkdirSync(dataDir, { recursive: true });
	const db = new SqliteDatabase(join(dataDir, "ceiling.db"));
	db.pragma("journal_mode = WAL");
	db.pragma("synchronous = NORMAL");
	db.exec(
		"CREATE TABLE IF NOT EXISTS files (id TEXT PRIMARY KEY, size INTEGER, expires INTEGER, data BLOB, path TEXT)",
	);
	const withData = db.prepare("SELECT size, expires, data, path FROM files WHERE id = ?");
	const without = db.prepare("SELECT size, expires, NULL AS data, path FROM files WHERE id = ?");
	const insert = db.prepare(
		"INSERT INTO files (id, size, expires, data, path) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET expires = max(expires, excluded.expires)",
	);
	return {
		find: async (id, isWithData) => (isWithData ? withData : without).get(id) as Row | undefined,
		insert: async (id, size, expires, data, path) => {
			insert.run(id, size, expires, data, path);
		},
	};
}

async function postgresStore(url: string): Promise<Store> {
	const pool = new pg.Pool({ connectionString: url, max: 10 });
	await pool.query(
		"CREATE TABLE IF NOT EXISTS files (id TEXT PRIMARY KEY, size BIGINT, expires BIGINT, data BYTEA, path TEXT)",
	);
	return {
		find: async (id, isWithData) => {
			const { rows } = await pool.query({
				name: isWithData ? "find-with-data" : "find",
				text: `SELECT size::int, expires::float8 AS expires, ${isWithData ? "data" : "NULL AS data"}, path FROM files WHERE id = $1`,
				values: [id],
			});
			return rows[0];
		},
		insert: async (id, size, expires, data, path) => {
			await pool.query({
				name: "insert",
				text: "INSERT INTO files (id, size, expires, data, path) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET expires = GREATEST(files.expires, excluded.expires)",
				values: [id, size, expires, data, path],
			});
		},
	};
}

const store = engine === "postgres" ? await postgresStore(where) : sqliteStore(where);
const blobDir = join(engine === "postgres" ? "/tmp" : where, `ceiling-blobs-${process.pid}`);
mkdirSync(blobDir, { recursive: true });

const headersOf = (extra: Record<string, string | number>) => ({
	"x-content-type-options": "nosniff",
	"referrer-policy": "no-referrer",
	"x-frame-options": "DENY",
	"x-request-id": randomUUID(),
	...extra,
});

function json(response: ServerResponse, status: number, body: unknown): void {
	const bytes = Buffer.from(JSON.stringify(body));
	response
		.writeHead(
			status,
			headersOf({ "content-type": "application/json", "content-length": bytes.length }),
		)
		.end(bytes);
}

async function upload(request: IncomingMessage, response: ServerResponse): Promise<void> {
	const hasher = fileIdHasher();
	const chunks: Buffer[] = [];
	let size = 0;
	let path: string | null = null;
	let handle: Awaited<ReturnType<typeof open>> | null = null;
	for await (const chunk of request as AsyncIterable<Buffer>) {
		hasher.update(chunk);
		size += chunk.length;
		if (handle === null && size > INLINE_MAX_BYTES) {
			path = join(blobDir, randomBytes(18).toString("base64url"));
			handle = await open(`${path}.part`, "wx");
			for (const earlier of chunks) await handle.write(earlier);
		}
		if (handle === null) chunks.push(chunk);
		else await handle.write(chunk);
	}
	if (handle !== null && path !== null) {
		await handle.sync();
		await handle.close();
		await rename(`${path}.part`, path);
		const directory = openSync(blobDir, "r");
		fsyncSync(directory);
		closeSync(directory);
	}
	const id = hasher.digest();
	const expires = Date.now() + TTL_MS;
	await store.insert(id, size, expires, handle === null ? Buffer.concat(chunks, size) : null, path);
	json(response, 200, { id, expires: expires / 1_000 });
}

async function download(id: string, response: ServerResponse): Promise<void> {
	const row = await store.find(id, true);
	if (row === undefined) return json(response, 404, { status_code: 404 });
	const bytes = row.data ?? (await readFile(row.path ?? ""));
	response
		.writeHead(
			200,
			headersOf({
				"content-type": "application/octet-stream",
				"accept-ranges": "bytes",
				expires: new Date(Number(row.expires)).toUTCString(),
				"content-length": bytes.length,
			}),
		)
		.end(bytes);
}

const server = createServer((request, response) => {
	const url = request.url ?? "";
	const info = /^\/file\/([A-Za-z0-9_-]+)\/info$/.exec(url);
	const file = /^\/file\/([A-Za-z0-9_-]+)$/.exec(url);
	const work =
		request.method === "POST" && url === "/file"
			? upload(request, response)
			: info?.[1] !== undefined
				? store.find(info[1], false).then((row) =>
						row === undefined
							? json(response, 404, { status_code: 404 })
							: json(response, 200, {
									size: row.size,
									uploaded: (Number(row.expires) - TTL_MS) / 1_000,
									expires: Number(row.expires) / 1_000,
								}),
					)
				: file?.[1] !== undefined
					? download(file[1], response)
					: Promise.resolve(json(response, 404, { status_code: 404 }));
	work.catch((error: unknown) => {
		process.stderr.write(`${String(error)}\n`);
		response.destroy();
	});
});
listenAndAnnounce(server);
