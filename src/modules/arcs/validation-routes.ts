/**
 * `GET /validate/validateArc` (specs/arcmanager.md §6.10): an ARC's structure and its investigation's
 * metadata checked as the original's ArcValidator does, with its answer's shape and messages, on the
 * request's branch (the original always read `main`), and without its defects: dates are checked as
 * dates (it handed the whole row to the date parser, so no date ever passed), contacts are the columns
 * that hold one (it counted every column of the sheet), and "publishable to Invenio" means a title and a
 * first contact with first and last name (it looked for snake_case keys that never exist).
 */
import type ExcelJS from "exceljs";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { AppError } from "#errors";
import type { ConnectService } from "#modules/connect";
import { hubApiOf } from "./hub-api.ts";
import { cellText, readWorkbook, rowsLabelled } from "./isa-workbook.ts";
import { branch, projectId, tags } from "./route-schemas.ts";

const REQUIRED_TOP_LEVEL = [
	".arc",
	"assays",
	"runs",
	"studies",
	"workflows",
	"isa.investigation.xlsx",
];
const REQUIRED_IN = {
	assays: ["dataset", "protocols", "isa.assay.xlsx"],
	studies: ["resources", "protocols", "isa.study.xlsx"],
} as const;
const REQUIRED_ROWS = {
	identifier: "Investigation Identifier",
	title: "Investigation Title",
	description: "Investigation Description",
} as const;
const ADDITIONAL_ROWS = {
	submissionDate: "Investigation Submission Date",
	releaseDate: "Investigation Public Release Date",
} as const;
const CONTACT_ROWS = {
	lastName: "Investigation Person Last Name",
	firstName: "Investigation Person First Name",
	email: "Investigation Person Email",
	affiliation: "Investigation Person Affiliation",
	orcid: "Comment[ORCID]",
} as const;
type ContactField = keyof typeof CONTACT_ROWS;

const EMAIL = /[^@]+@[^@]+\.[^@]+/;
const ORCID = /\d{4}-\d{4}-\d{4}-\d{4}/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

const result = z.object({ isValid: z.boolean(), messages: z.array(z.string()) });
type Result = z.output<typeof result>;
const part = z.object({ name: z.string(), structure: result, isaFileHasSecondSheet: result });
const validation = z.object({
	structure: result,
	isaInvestigation: z.object({
		correctSheetName: result,
		requiredFields: z.record(z.string(), z.boolean()),
		additionalFields: z.record(z.string(), z.boolean()),
		contacts: z.array(z.record(z.string(), z.boolean())),
		messages: z.array(z.string()),
	}),
	assays: z.array(part),
	studies: z.array(part),
	invenioPublishable: result,
});
export type ArcValidation = z.output<typeof validation>;

const resultOf = (messages: string[]): Result => ({ isValid: messages.length === 0, messages });

function isValidDate(text: string): boolean {
	return ISO_DATE.test(text) && !Number.isNaN(Date.parse(text.slice(0, 10)));
}

function isValidContactValue(field: ContactField, text: string): boolean {
	if (field === "email") return EMAIL.test(text);
	if (field === "orcid") return ORCID.test(text);
	return text !== "";
}

/** The investigation's checks: required and additional rows, and each contact column. */
export function checkInvestigation(workbook: ExcelJS.Workbook): ArcValidation["isaInvestigation"] {
	const named = workbook.getWorksheet("isa_investigation");
	const sheet = named ?? workbook.worksheets[0];
	const messages: string[] = [];
	const requiredFields: Record<string, boolean> = {};
	const additionalFields: Record<string, boolean> = {};
	const firstValue = (label: string): string | null => {
		const row = sheet === undefined ? undefined : rowsLabelled(sheet, label)[0];
		return row === undefined || sheet === undefined ? null : cellText(sheet, row, 2);
	};
	for (const [key, label] of Object.entries(REQUIRED_ROWS)) {
		const value = firstValue(label);
		if (value === null) {
			messages.push(`Row '${label}' not found in 'isa.investigation.xlsx'`);
			continue;
		}
		requiredFields[key] = value !== "";
		if (value === "") messages.push(`No entry found for '${label}'`);
	}
	for (const [key, label] of Object.entries(ADDITIONAL_ROWS)) {
		const value = firstValue(label);
		if (value === null) {
			messages.push(`Row '${label}' not found in 'isa.investigation.xlsx'.`);
			continue;
		}
		additionalFields[key] = isValidDate(value);
		if (!additionalFields[key])
			messages.push(`No valid value for '${label}' found in 'isa.investigation.xlsx'.`);
	}
	const contactRows = Object.fromEntries(
		Object.entries(CONTACT_ROWS).map(([key, label]) => [
			key,
			sheet === undefined ? undefined : rowsLabelled(sheet, label)[0],
		]),
	) as Record<ContactField, number | undefined>;
	for (const [key, row] of Object.entries(contactRows))
		if (row === undefined)
			messages.push(
				`Row '${CONTACT_ROWS[key as ContactField]}' not found in 'isa.investigation.xlsx'`,
			);
	const contacts: Record<string, boolean>[] = [];
	if (sheet !== undefined)
		for (let column = 2; column <= sheet.columnCount; column += 1) {
			const values = Object.fromEntries(
				Object.entries(contactRows).map(([key, row]) => [
					key,
					row === undefined ? "" : cellText(sheet, row, column),
				]),
			) as Record<ContactField, string>;
			if (Object.values(values).every((value) => value === "")) continue;
			const contact: Record<string, boolean> = {};
			for (const [key, row] of Object.entries(contactRows)) {
				if (row === undefined) continue;
				const field = key as ContactField;
				contact[field] = isValidContactValue(field, values[field]);
				if (!contact[field])
					messages.push(
						`Contact ${contacts.length + 1}: No valid value for '${CONTACT_ROWS[field]}'`,
					);
			}
			contacts.push(contact);
		}
	return {
		correctSheetName: resultOf(
			named === undefined ? ["Sheet of 'isa.investigation.xlsx' not named isa_investigation"] : [],
		),
		requiredFields,
		additionalFields,
		contacts,
		messages,
	};
}

/** What Invenio needs of an ARC: a title, and a first contact with a last and a first name. */
export function checkPublishable(investigation: ArcValidation["isaInvestigation"]): Result {
	const messages: string[] = [];
	const first = investigation.contacts[0];
	if (investigation.requiredFields.title !== true)
		messages.push("Title is missing for publishing to invenio.");
	if (first?.lastName !== true) messages.push("Last name is missing for publishing to invenio.");
	if (first?.firstName !== true) messages.push("First name is missing for publishing to invenio.");
	return resultOf(messages);
}

/** The paths below `folder/<name>/`, by name. */
function partsOf(paths: readonly string[], folder: string): Map<string, string[]> {
	const parts = new Map<string, string[]>();
	for (const path of paths) {
		const [top, name, ...rest] = path.split("/");
		if (top !== folder || name === undefined || rest.length === 0) continue;
		parts.set(name, [...(parts.get(name) ?? []), rest.join("/")]);
	}
	return parts;
}

export const validationRoutes: FastifyPluginAsyncZod<{ connect: ConnectService }> = async (
	app,
	{ connect },
) => {
	app.get(
		`${connect.prefix}/validate/validateArc`,
		{
			schema: {
				tags,
				summary:
					"Check an ARC on a branch: its folders, each study's and assay's content and second sheet, the investigation's required and additional rows and contacts, and whether Invenio could take it.",
				querystring: z.object({
					id: projectId,
					branch,
				}),
				response: {
					200: validation,
					401: connect.detailBody,
					404: connect.detailBody,
					504: connect.detailBody,
				},
			},
		},
		async (request) => {
			const hub = await hubApiOf(connect, request);
			const { id, branch: ref } = request.query;
			const tree = z
				.array(z.looseObject({ path: z.string(), type: z.string() }))
				.parse(
					await hub.all(
						`/projects/${id}/repository/tree`,
						"No such ARC or branch",
						new URLSearchParams({ ref, recursive: "true" }),
					),
				);
			const paths = tree.filter((entry) => entry.type === "blob").map((entry) => entry.path);
			if (!paths.includes("isa.investigation.xlsx"))
				throw new AppError("not_found", { description: "`isa.investigation.xlsx` missing in ARC" });
			const topLevel = new Set(paths.map((path) => path.split("/")[0]));
			const structure = resultOf(
				REQUIRED_TOP_LEVEL.filter((entry) => !topLevel.has(entry)).map(
					(entry) => `${entry} is missing in the ARC`,
				),
			);
			const checkParts = async (folder: "assays" | "studies") => {
				const isaFile = REQUIRED_IN[folder][2];
				const checked: z.output<typeof part>[] = [];
				// One file at a time: an ARC with hundreds of assays must not open hundreds of hub calls.
				for (const [name, contents] of partsOf(paths, folder)) {
					const entries = new Set(contents.map((path) => path.split("/")[0]));
					const path = `${folder}/${name}/${isaFile}`;
					let secondSheet: Result = { isValid: false, messages: [] };
					if (contents.includes(isaFile)) {
						const workbook = await readWorkbook((await hub.fileBytes(id, path, ref)).bytes);
						secondSheet = resultOf(
							workbook.worksheets.length < 2 ? [`No second sheet in '${path}'`] : [],
						);
					}
					checked.push({
						name,
						structure: resultOf(
							REQUIRED_IN[folder]
								.filter((entry) => !entries.has(entry))
								.map((entry) => `${entry} is missing in ${name}`),
						),
						isaFileHasSecondSheet: secondSheet,
					});
				}
				return checked;
			};
			const investigation = checkInvestigation(
				await readWorkbook((await hub.fileBytes(id, "isa.investigation.xlsx", ref)).bytes),
			);
			return {
				structure,
				isaInvestigation: investigation,
				assays: await checkParts("assays"),
				studies: await checkParts("studies"),
				invenioPublishable: checkPublishable(investigation),
			};
		},
	);
};
