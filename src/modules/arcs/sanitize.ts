/**
 * The original's input sanitising (specs/arcmanager.md §4.1), kept because the frontend renders these
 * values: `<`/`>` escaped in names, descriptions, identifiers and cell values; in text files shown by
 * arc_file, script and iframe tags replaced by a marker and their closing tags dropped.
 */

export function sanitizeInput(text: string): string {
	return text.replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/** A spreadsheet cell as the user sent it: text sanitised, numbers, booleans and null as they are. */
export function sanitizeCell<T>(value: T): T | string {
	return typeof value === "string" ? sanitizeInput(value) : value;
}

/** Files whose text arc_file sanitises before showing it. */
export function isShownAsText(path: string): boolean {
	return /\.(txt|md|html|xml)$/i.test(path);
}

export function sanitizeShownText(text: string): string {
	return text
		.replace(/<script\b[^>]*>/gi, "---here was a script tag---")
		.replace(/<iframe\b[^>]*>/gi, "---here was a iframe tag---")
		.replace(/<\/(script|iframe)\s*>/gi, "");
}
