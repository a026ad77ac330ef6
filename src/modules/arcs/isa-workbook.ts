/**
 * ISA spreadsheets (isa.investigation|study|assay|run|workflow.xlsx) as ARCmanager shows and edits them
 * (specs/arcmanager.md §6.3, §6.4), read and written with exceljs: the metadata sheet by the names the
 * original looked for; its rows as pandas `read_excel(...).to_json(orient="split")["data"]` gave them (the
 * first spreadsheet row taken as the header and left out, every row as wide as the widest, empty cells
 * null); a non-ISA sheet as pandas' split JSON; and a metadata row found by its label and rewritten.
 */
import ExcelJS from "exceljs";
import { AppError } from "#errors";

export type CellValue = string | number | boolean | null;

/** The metadata sheet's names, first choice first (§6.3). */
const METADATA_SHEETS: Readonly<Record<string, readonly string[]>> = {
	investigation: ["isa_investigation"],
	study: ["Study", "isa_study"],
	assay: ["Assay", "isa_assay"],
	run: ["isa_run", "Run"],
	workflow: ["isa_workflow", "Workflow"],
};

/** `isa.assay.xlsx` → `assay`; null for a file that is not an ISA spreadsheet. */
export function isaTypeOf(path: string): string | null {
	const name = path.split("/").at(-1) ?? "";
	const match = /^isa\.([^.]+)\.xlsx$/i.exec(name);
	return match?.[1]?.toLowerCase() ?? null;
}

/** @throws AppError invalid_request when the bytes are no xlsx file (the user's file, not a server fault). */
export async function readWorkbook(bytes: Uint8Array): Promise<ExcelJS.Workbook> {
	const workbook = new ExcelJS.Workbook();
	try {
		// exceljs declares its own Buffer (an ArrayBuffer); a copy into a fresh ArrayBuffer is what it takes.
		await workbook.xlsx.load(new Uint8Array(bytes).buffer);
	} catch (error) {
		throw new AppError("invalid_request", {
			description: "The file is not a spreadsheet that can be read (.xlsx)",
			cause: error,
		});
	}
	return workbook;
}

export async function workbookBytes(workbook: ExcelJS.Workbook): Promise<Buffer> {
	return Buffer.from(await workbook.xlsx.writeBuffer());
}

/** The sheet the original read for this ISA type, else the first. */
export function metadataSheet(
	workbook: ExcelJS.Workbook,
	isaType: string,
): ExcelJS.Worksheet | undefined {
	for (const name of METADATA_SHEETS[isaType] ?? []) {
		const sheet = workbook.getWorksheet(name);
		if (sheet !== undefined) return sheet;
	}
	return workbook.worksheets[0];
}

export function plainValue(value: ExcelJS.CellValue): CellValue {
	if (value === null || value === undefined) return null;
	if (typeof value === "string") return value === "" ? null : value;
	if (typeof value === "number" || typeof value === "boolean") return value;
	if (value instanceof Date) return value.toISOString();
	if ("richText" in value) return value.richText.map((part) => part.text).join("") || null;
	if ("hyperlink" in value) return plainValue(value.text);
	if ("formula" in value || "sharedFormula" in value) return plainValue(value.result ?? null);
	return null;
}

/** Every row up to the last with a value, each as wide as the widest, empty cells null. */
export function rowsOf(sheet: ExcelJS.Worksheet): CellValue[][] {
	const width = sheet.actualColumnCount === 0 ? 0 : sheet.columnCount;
	const rows: CellValue[][] = [];
	for (let number = 1; number <= sheet.rowCount; number += 1) {
		const row = sheet.getRow(number);
		rows.push(
			Array.from({ length: width }, (_, index) => plainValue(row.getCell(index + 1).value)),
		);
	}
	while (rows.length > 0 && rows.at(-1)?.every((value) => value === null) === true) rows.pop();
	return rows;
}

/** pandas' `to_json(orient="split")` of the sheet read with the first row as header. */
export function splitJson(sheet: ExcelJS.Worksheet): {
	columns: CellValue[];
	index: number[];
	data: CellValue[][];
} {
	const [header = [], ...data] = rowsOf(sheet);
	return {
		columns: header.map((value, index) => value ?? `Unnamed: ${index}`),
		index: data.map((_, index) => index),
		data,
	};
}

/**
 * Writes `values` into the columns after the row labelled `label` (its first cell): a string sets the
 * cell, an empty string clears it (the original could not), null leaves it. False when no row has it.
 */
export function writeRow(
	sheet: ExcelJS.Worksheet,
	label: string,
	values: readonly (string | number | null)[],
): boolean {
	for (let number = 1; number <= sheet.rowCount; number += 1) {
		const row = sheet.getRow(number);
		if (plainValue(row.getCell(1).value) !== label) continue;
		values.forEach((value, index) => {
			if (value === null) return;
			row.getCell(index + 2).value = value === "" ? null : value;
		});
		row.commit();
		return true;
	}
	return false;
}

/** The numbers of the rows whose first cell is `label`, top to bottom. */
export function rowsLabelled(sheet: ExcelJS.Worksheet, label: string): number[] {
	const numbers: number[] = [];
	for (let number = 1; number <= sheet.rowCount; number += 1)
		if (plainValue(sheet.getRow(number).getCell(1).value) === label) numbers.push(number);
	return numbers;
}

/** A cell's value as text ("" for an empty one). */
export function cellText(sheet: ExcelJS.Worksheet, row: number, column: number): string {
	const value = plainValue(sheet.getRow(row).getCell(column).value);
	return value === null ? "" : String(value);
}

/** Every sheet but the metadata one (datamaps: every sheet), as pandas' split JSON, and their names. */
export function annotationSheets(
	workbook: ExcelJS.Workbook,
	isaType: string,
): [ReturnType<typeof splitJson>[], string[]] {
	const metadataNames = isaType === "datamap" ? [] : (METADATA_SHEETS[isaType] ?? []);
	const sheets = workbook.worksheets.filter((sheet) => !metadataNames.includes(sheet.name));
	return [sheets.map(splitJson), sheets.map((sheet) => sheet.name)];
}
