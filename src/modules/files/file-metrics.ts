/** Prometheus series of the files module: what is stored (read from the database at scrape time) and traffic. */
import { Counter, Gauge, type Registry } from "prom-client";
import type { FileRecords } from "./file-records.ts";

export interface FileMetrics {
	readonly uploads: Counter;
	readonly downloads: Counter;
	readonly swept: Counter;
}

export function registerFileMetrics(registry: Registry, records: FileRecords): FileMetrics {
	const registers = [registry];
	// Both gauges come from one query; the second scrape callback reuses the first one's answer.
	let pendingTotals: Promise<{ files: number; bytes: number }> | undefined;
	const totals = () => {
		pendingTotals ??= records.totals().finally(() => {
			pendingTotals = undefined;
		});
		return pendingTotals;
	};
	new Gauge({
		name: "tollgate_files_stored",
		help: "Files stored (expired but not yet swept included).",
		registers,
		async collect() {
			this.set((await totals()).files);
		},
	});
	new Gauge({
		name: "tollgate_files_stored_bytes",
		help: "Bytes of the stored files.",
		registers,
		async collect() {
			this.set((await totals()).bytes);
		},
	});
	return {
		uploads: new Counter({
			name: "tollgate_files_uploads_total",
			help: "Files uploaded.",
			registers,
		}),
		downloads: new Counter({
			name: "tollgate_files_downloads_total",
			help: "Files served.",
			registers,
		}),
		swept: new Counter({
			name: "tollgate_files_swept_total",
			help: "Expired files deleted by the sweeper.",
			registers,
		}),
	};
}
