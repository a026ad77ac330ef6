/**
 * ISA files kept in step with each other (specs/arcmanager.md §6.4): an assay's metadata written into the
 * studies that list it (their STUDY ASSAYS block), a study's into the investigation's study block; after
 * saveFile edits one, what links to it is synced too (the original's checkAssayLink and checkStudyLink).
 * Each file is read with its last_commit_id and written back with it: an edit made meanwhile is 409.
 */
import type ExcelJS from "exceljs";
import { z } from "zod";
import { AppError } from "#errors";
import { filePath, type HubAnswer, type HubApi } from "./hub-api.ts";
import { STUDY_ROWS } from "./isa-templates.ts";
import {
	cellText,
	isaTypeOf,
	metadataSheet,
	readWorkbook,
	rowsLabelled,
	workbookBytes,
} from "./isa-workbook.ts";

const INVESTIGATION = "isa.investigation.xlsx";

/** A workbook on the branch and the commit it was read at. */
export async function readIsaFile(hub: HubApi, id: number, path: string, ref: string) {
	const { bytes, lastCommitId } = await hub.fileBytes(id, path, ref);
	return { workbook: await readWorkbook(bytes), lastCommitId };
}

/** Writes an edited workbook back, refused (409) if the file changed since it was read. */
export async function saveIsaFile(
	hub: HubApi,
	options: {
		id: number;
		path: string;
		ref: string;
		workbook: ExcelJS.Workbook;
		lastCommitId: string;
		message: string;
	},
): Promise<HubAnswer> {
	return hub.ok("PUT", filePath(options.id, options.path), `Could not save ${options.path}`, {
		json: {
			branch: options.ref,
			content: (await workbookBytes(options.workbook)).toString("base64"),
			encoding: "base64",
			commit_message: options.message,
			last_commit_id: options.lastCommitId,
		},
	});
}

/** The ISA file's metadata sheet. @throws invalid_request when it has no sheet at all. */
export function metadataOf(workbook: ExcelJS.Workbook, path: string): ExcelJS.Worksheet {
	const sheet = metadataSheet(workbook, isaTypeOf(path) ?? "");
	if (sheet === undefined)
		throw new AppError("invalid_request", { description: `${path} has no sheet` });
	return sheet;
}

export async function syncAssayIntoStudy(
	hub: HubApi,
	options: { id: number; ref: string; pathToStudy: string; pathToAssay: string; assayName: string },
): Promise<HubAnswer> {
	const { id, ref, pathToStudy, pathToAssay, assayName } = options;
	const assay = metadataOf((await readIsaFile(hub, id, pathToAssay, ref)).workbook, pathToAssay);
	const { workbook, lastCommitId } = await readIsaFile(hub, id, pathToStudy, ref);
	const study = metadataOf(workbook, pathToStudy);
	const header = rowsLabelled(study, "STUDY ASSAYS")[0];
	if (header === undefined)
		throw new AppError("invalid_request", { description: "Study has no STUDY ASSAYS field" });
	writeAssayColumn(study, header + 1, assayName, assay);
	return saveIsaFile(hub, {
		id,
		path: pathToStudy,
		ref,
		workbook,
		lastCommitId,
		message: `Updated ${pathToStudy}, changed synced ${pathToAssay} to ${pathToStudy}`,
	});
}

export async function syncStudyIntoInvestigation(
	hub: HubApi,
	options: { id: number; ref: string; pathToStudy: string; studyName: string },
): Promise<HubAnswer> {
	const { id, ref, pathToStudy, studyName } = options;
	const study = metadataOf((await readIsaFile(hub, id, pathToStudy, ref)).workbook, pathToStudy);
	const { workbook, lastCommitId } = await readIsaFile(hub, id, INVESTIGATION, ref);
	writeStudyBlock(metadataOf(workbook, INVESTIGATION), study, studyName);
	return saveIsaFile(hub, {
		id,
		path: INVESTIGATION,
		ref,
		workbook,
		lastCommitId,
		message: `Updated ${INVESTIGATION}, changed synced ${pathToStudy}`,
	});
}

/** Whether a row labelled `label` names `path` in one of its cells. */
function rowNames(sheet: ExcelJS.Worksheet, label: string, path: string): boolean {
	return rowsLabelled(sheet, label).some((row) => {
		for (let column = 2; column <= sheet.columnCount; column += 1)
			if (cellText(sheet, row, column).includes(path)) return true;
		return false;
	});
}

const treeEntry = z.looseObject({ path: z.string(), type: z.string() });

/**
 * After `path` (an assay or study file) was edited: the studies that list the assay get its metadata,
 * and the investigation that lists a study gets that study's.
 */
export async function syncLinksOf(
	hub: HubApi,
	id: number,
	path: string,
	ref: string,
): Promise<void> {
	const type = isaTypeOf(path);
	const folderName = path.split("/")[1] ?? "";
	if (type === "assay" && path.startsWith("assays/")) {
		const studies = z
			.array(treeEntry)
			.parse(
				await hub.all(
					`/projects/${id}/repository/tree`,
					"No studies",
					new URLSearchParams({ path: "studies", ref, recursive: "true" }),
				),
			)
			.filter((entry) => entry.type === "blob" && isaTypeOf(entry.path) === "study")
			.map((entry) => entry.path);
		for (const pathToStudy of studies) {
			const study = metadataOf(
				(await readIsaFile(hub, id, pathToStudy, ref)).workbook,
				pathToStudy,
			);
			if (!rowNames(study, "Study Assay File Name", path)) continue;
			await syncAssayIntoStudy(hub, {
				id,
				ref,
				pathToStudy,
				pathToAssay: path,
				assayName: folderName,
			});
			await syncLinksOf(hub, id, pathToStudy, ref);
		}
	}
	if (type === "study" && path.startsWith("studies/")) {
		const investigation = await hub.call("GET", filePath(id, INVESTIGATION), {
			query: new URLSearchParams({ ref }),
		});
		if (investigation.status === 404) return;
		const { workbook } = await readIsaFile(hub, id, INVESTIGATION, ref);
		if (rowNames(metadataOf(workbook, INVESTIGATION), "Study File Name", path))
			await syncStudyIntoInvestigation(hub, { id, ref, pathToStudy: path, studyName: folderName });
	}
}

/**
 * Writes the assay's first eight metadata values into the study's STUDY ASSAYS block starting at
 * `firstRow`: into the column whose file-name row (the eighth) names the assay, else the first column
 * with an empty one, else a new column.
 */
export function writeAssayColumn(
	study: ExcelJS.Worksheet,
	firstRow: number,
	assayName: string,
	assay: ExcelJS.Worksheet,
): void {
	const fileNameRow = firstRow + 7;
	const width = Math.max(study.columnCount, 2);
	let column = 0;
	for (let candidate = 2; candidate <= width; candidate += 1)
		if (cellText(study, fileNameRow, candidate).includes(assayName)) {
			column = candidate;
			break;
		}
	if (column === 0)
		for (let candidate = 2; candidate <= width; candidate += 1)
			if (cellText(study, fileNameRow, candidate) === "") {
				column = candidate;
				break;
			}
	if (column === 0) column = width + 1;
	for (let offset = 0; offset < 8; offset += 1) {
		// The assay's rows below its header: spreadsheet rows 2–9.
		const value = cellText(assay, offset + 2, 2);
		study.getRow(firstRow + offset).getCell(column).value = value === "" ? null : value;
	}
}

/**
 * Copies the study's rows (below its header) into the investigation from the `Study Identifier` row of
 * the block that names `studyName`, else of the first empty block, else of a new `STUDY` block appended.
 */
export function writeStudyBlock(
	investigation: ExcelJS.Worksheet,
	study: ExcelJS.Worksheet,
	studyName: string,
): void {
	const blocks = rowsLabelled(investigation, "Study Identifier");
	const naming = blocks.find((row) => {
		const values = investigation.getRow(row).values;
		return JSON.stringify(values).replaceAll(" ", "").includes(studyName.replaceAll(" ", ""));
	});
	let start = naming ?? blocks.find((row) => cellText(investigation, row, 2) === "");
	if (start === undefined) {
		investigation.addRow(["STUDY"]);
		for (const label of STUDY_ROWS) investigation.addRow([label]);
		start = investigation.rowCount - STUDY_ROWS.length + 1;
	}
	const width = Math.max(study.columnCount, 1);
	for (let row = 2; row <= study.rowCount; row += 1)
		for (let column = 1; column <= width; column += 1) {
			const value = cellText(study, row, column);
			investigation.getRow(start + row - 2).getCell(column).value = value === "" ? null : value;
		}
}
