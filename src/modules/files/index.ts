/**
 * The Session File Server (specs/session-file-server.md): expiring, content-addressed, client-encrypted
 * attachments and the Session apps' version cache, directly and through onion requests. This file is the
 * module's descriptor and stays light (the CLI reads it for --help); module.ts holds the rest.
 */
import { defineModule } from "../contract.ts";
import { filesConfigSection } from "./config.ts";

export type { FilesConfig } from "./config.ts";

const commands = () => import("./cli.ts");

export const filesModule = defineModule({
	name: "files",
	configSection: filesConfigSection,
	isEnabled: (section) => section.enabled,
	migrationsDir: "src/modules/files/migrations",
	commands: [
		{
			name: "files stats",
			summary:
				"Print how many files are stored, their total size, and the bytes the blob store holds.",
			details: [
				"",
				"files and bytes count records (expired ones the sweeper has not deleted yet included);",
				"inline_bytes are the small files' bytes kept in their records; blob_bytes and leftover_bytes are",
				"what the blob store holds on disk (or in the database).",
			],
			load: async () => (await commands()).stats,
		},
		{
			name: "files sweep",
			summary: "Delete every expired file now (records and bytes) and print how many.",
			details: ["", "The same work as the leased background sweeper; safe to run beside it."],
			load: async () => (await commands()).sweep,
		},
		{
			name: "files check",
			summary: "Check that file records and stored bytes agree; --repair fixes what does not.",
			details: [
				"",
				"Reports blobs no record points at (orphans), records whose bytes are gone, pending uploads older",
				"than files.abandoned_upload_grace_seconds, and the blob store's leftovers. Exits 0 when nothing",
				"needs repair, 1 when something does. --repair deletes orphans and stale leftovers and removes",
				"records without bytes, then reports again. Safe beside a running service: uploads in progress",
				"are left alone.",
			],
			options: {
				repair: { description: "delete orphans and stale leftovers, remove records without bytes" },
			},
			load: async () => (await commands()).check,
		},
		{
			name: "files get",
			summary: "Write a stored file's bytes to stdout.",
			details: [
				"",
				"Exits 1 when there is no such live file. The bytes are what the client uploaded (encrypted).",
			],
			arguments: ["id"],
			load: async () => (await commands()).get,
		},
	],
	load: async () => (await import("./module.ts")).implementation,
});
