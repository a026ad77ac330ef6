/**
 * JSON from clients, parsed with a nesting limit: a 10 KB body of `[[[[…` parses, but serialising or
 * walking the value afterwards overflows the stack. The limit is checked on the text, before parsing.
 */

/** Deep enough for any document a client sends; far below where recursion over the value gets risky. */
export const MAX_JSON_DEPTH = 64;

export class JsonBodyError extends Error {
	constructor(reason: string) {
		super(reason);
		this.name = "JsonBodyError";
	}
}

const OPEN_OBJECT = 0x7b;
const OPEN_ARRAY = 0x5b;
const CLOSE_OBJECT = 0x7d;
const CLOSE_ARRAY = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** The index of the quote that closes the string opened just before `from`; -1 when it is never closed. */
function endOfString(text: string, from: number): number {
	let quote = text.indexOf('"', from);
	while (quote !== -1) {
		let backslashes = 0;
		while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes += 1;
		if (backslashes % 2 === 0) return quote;
		quote = text.indexOf('"', quote + 1);
	}
	return -1;
}

/** Whether arrays and objects in `text` nest deeper than `maxDepth` (strings are skipped whole). */
export function nestsDeeperThan(text: string, maxDepth: number): boolean {
	let depth = 0;
	for (let index = 0; index < text.length; index += 1) {
		const code = text.charCodeAt(index);
		if (code === QUOTE) {
			const end = endOfString(text, index + 1);
			if (end === -1) return false;
			index = end;
		} else if (code === OPEN_OBJECT || code === OPEN_ARRAY) {
			depth += 1;
			if (depth > maxDepth) return true;
		} else if (code === CLOSE_OBJECT || code === CLOSE_ARRAY) {
			depth -= 1;
		}
	}
	return false;
}

/**
 * Parses untrusted JSON text.
 * @throws JsonBodyError when it is not JSON or nests deeper than `maxDepth`; the message says which.
 */
export function parseJsonBody(text: string, maxDepth: number = MAX_JSON_DEPTH): unknown {
	if (nestsDeeperThan(text, maxDepth))
		throw new JsonBodyError(`JSON nests deeper than ${maxDepth} levels`);
	try {
		return JSON.parse(text);
	} catch (error) {
		throw new JsonBodyError(error instanceof Error ? error.message : String(error));
	}
}
