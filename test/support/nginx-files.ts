/**
 * Runs edge/files.conf as shipped inside a minimal nginx.conf (the `upstream tollgate` and `server` block
 * an operator writes around it), with only the blob directory rewritten for the test.
 */
import { chmod, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EDGE_DIR, type RunningNginx, replacePlaceholder, runNginx } from "./nginx.ts";
import { freePort } from "./redis-server.ts";

/** The internal location edge/files.conf declares; Tollgate's files.accel_redirect_prefix must equal it. */
export const FILES_ACCEL_PREFIX = "/_tollgate_blobs/";

export interface FilesEdgeSettings {
	readonly tollgatePort: number;
	/** Tollgate's <data_dir>/blobs. */
	readonly blobRoot: string;
	/** nginx directives added to the server block (the benchmark adds a static baseline). */
	readonly extraServerConfig?: string;
	/** Pins nginx (and so its worker) to this core, for benchmarks. */
	readonly cpuCore?: number;
}

export async function startNginxFiles(settings: FilesEdgeSettings): Promise<RunningNginx> {
	const prefix = await mkdtemp(join(tmpdir(), "tollgate-files-edge-"));
	// Workers run as nobody: they must reach the prefix and write their temporary files there.
	await chmod(prefix, 0o755);
	const port = await freePort();
	let snippet = await readFile(join(EDGE_DIR, "files.conf"), "utf8");
	snippet = replacePlaceholder(
		"files.conf",
		snippet,
		"alias /var/lib/tollgate/data/blobs/;",
		`alias ${settings.blobRoot}/;`,
	);
	if (!snippet.includes(`location ${FILES_ACCEL_PREFIX} {`))
		throw new Error(`edge/files.conf no longer has the internal location ${FILES_ACCEL_PREFIX}`);
	await writeFile(join(prefix, "files.conf"), snippet);
	const temporaryPaths = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
		.map((kind) => `\t${kind}_temp_path ${join(prefix, `${kind}_temp`)};`)
		.join("\n");
	const conf = `worker_processes 1;
pid ${join(prefix, "nginx.pid")};
events {
	worker_connections 1024;
}
http {
	access_log off;
${temporaryPaths}
	upstream tollgate {
		server 127.0.0.1:${settings.tollgatePort};
		keepalive 64;
	}
	server {
		listen 127.0.0.1:${port};
		include files.conf;
${settings.extraServerConfig ?? ""}
	}
}
`;
	await writeFile(join(prefix, "nginx.conf"), conf);
	return runNginx({
		prefix,
		port,
		...(settings.cpuCore === undefined ? {} : { cpuCore: settings.cpuCore }),
	});
}
