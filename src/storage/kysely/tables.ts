/** Row types of the foundation's tables; modules declare theirs beside their own storage code. */
import type { Generated } from "kysely";

export interface ServiceKeysTable {
	key_name: string;
	secret: Uint8Array;
	created_at_ms: number;
}

export interface JobLeasesTable {
	job_name: string;
	holder: string | null;
	lease_until_ms: Generated<number>;
	next_run_at_ms: Generated<number>;
	last_started_at_ms: number | null;
	last_finished_at_ms: number | null;
	last_error: string | null;
}

export interface BlobsTable {
	blob_key: string;
	upload_id: string;
	size_bytes: number;
	created_at_ms: number;
}

export interface BlobChunksTable {
	upload_id: string;
	chunk_index: number;
	data: Uint8Array;
	created_at_ms: number;
}

export interface FoundationTables {
	service_keys: ServiceKeysTable;
	job_leases: JobLeasesTable;
	blobs: BlobsTable;
	blob_chunks: BlobChunksTable;
}
