/**
 * Content-addressed file ids, as the Session File Server makes them (specs/session-file-server.md §4.1):
 * base64url(BLAKE2b(data, digest_size = 33, salt = "SessionFileSvr\0\0")), 44 characters. The same bytes
 * always get the same id, so a re-upload is recognised.
 */
import { blake2b } from "@noble/hashes/blake2.js";

const SALT = new TextEncoder().encode("SessionFileSvr\0\0");
export const FILE_ID_LENGTH = 44;
const FILE_ID_PATTERN = /^[A-Za-z0-9_-]{1,44}$/;

export interface FileIdHasher {
	update(chunk: Uint8Array): void;
	/** The id of everything passed to update. */
	digest(): string;
}

export function fileIdHasher(): FileIdHasher {
	const hash = blake2b.create({ dkLen: 33, salt: SALT });
	return {
		update: (chunk) => {
			hash.update(chunk);
		},
		digest: () => Buffer.from(hash.digest()).toString("base64url"),
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
