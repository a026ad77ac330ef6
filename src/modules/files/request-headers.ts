/** The file server's request headers, read as the original reads them (specs/session-file-server.md §3). */
import type { BlobRange } from "../../storage/index.ts";

/** `X-FS-TTL`: absent → default; an integer in [0, max] → it; anything else → invalid. */
export function readTtl(
	header: string | string[] | undefined,
	maxTtlSeconds: number,
): number | undefined | "invalid" {
	if (header === undefined) return undefined;
	if (Array.isArray(header) || !/^\d+$/.test(header.trim())) return "invalid";
	const ttl = Number(header.trim());
	return ttl <= maxTtlSeconds ? ttl : "invalid";
}

/** One `bytes=a-b`, `bytes=a-` or `bytes=-n` range within `size`; null without a Range header. */
export function parseRange(
	header: string | undefined,
	size: number,
): BlobRange | null | "unsatisfiable" {
	if (header === undefined) return null;
	const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
	const [, first = "", last = ""] = match ?? [];
	if (match === null || (first === "" && last === "")) return "unsatisfiable";
	const range =
		first === ""
			? { start: Math.max(size - Number(last), 0), end: size - 1 }
			: { start: Number(first), end: last === "" ? size - 1 : Math.min(Number(last), size - 1) };
	return range.start <= range.end && range.start < size ? range : "unsatisfiable";
}
