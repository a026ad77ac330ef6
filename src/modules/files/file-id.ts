/**
 * Content-addressed file ids, as the Session File Server makes them (specs/session-file-server.md §4.1):
 * base64url(BLAKE2b(data, digest_size = 33, salt = "SessionFileSvr\0\0")), 44 characters. The same bytes
 * always get the same id, so a re-upload is recognised.
 * Every uploaded byte is hashed, so this is blake2b-wasm (about 600 MB/s here) rather than the pure-JS
 * BLAKE2b (45 MB/s); node:crypto's BLAKE2b takes neither a salt nor a digest size.
 */
import blake2b from "blake2b-wasm";

await blake2b.ready();

const SALT = new TextEncoder().encode("SessionFileSvr\0\0");
const DIGEST_BYTES = 33;
export const FILE_ID_LENGTH = 44;
const FILE_ID_PATTERN = /^[A-Za-z0-9_-]{1,44}$/;

export interface FileIdHasher {
	update(chunk: Uint8Array): void;
	/** The id of everything passed to update; the hasher is spent after it. */
	digest(): string;
	/** Frees a hasher whose upload was abandoned (its state lives in a shared WebAssembly memory). */
	discard(): void;
}

export function fileIdHasher(): FileIdHasher {
	const state = blake2b(DIGEST_BYTES, null, SALT);
	let spent = false;
	const finish = () => {
		spent = true;
		return state.digest();
	};
	return {
		update: (chunk) => {
			state.update(chunk);
		},
		digest: () => Buffer.from(finish()).toString("base64url"),
		discard: () => {
			if (!spent) finish();
		},
	};
}

export function fileIdOf(data: Uint8Array): string {
	const hasher = fileIdHasher();
	hasher.update(data);
	return hasher.digest();
}

/** Ids the server could have made: hash ids (44 characters) and old numeric ids. */
export function isFileId(value: string): boolean {
	return FILE_ID_PATTERN.test(value);
}
