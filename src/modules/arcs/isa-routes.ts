/**
 * ARCmanager's ISA-structure routes (specs/arcmanager.md §6.4, §6.5): new ARCs, studies, assays and
 * datamaps from the built-in templates (isa-templates.ts), each created in one commit with its values
 * already written (the original committed a blank file, then edited it, and sent that edit to `main`
 * whatever the branch); a broken ARC repaired by adding only what it lacks; assays synced into studies
 * and studies into the investigation on the request's branch; annotation sheets read and replaced. Every
 * edit of an existing file carries GitLab's last_commit_id, so an edit made meanwhile is 409.
 */
import type ExcelJS from "exceljs";
import type { FastifyRequest } from "fastify";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { AppError } from "#errors";
import type { ConnectService } from "#modules/connect";
import { type HubApi, hubApiOf } from "./hub-api.ts";
import {
	metadataOf,
	readIsaFile,
	saveIsaFile,
	syncAssayIntoStudy,
	syncStudyIntoInvestigation,
} from "./isa-sync.ts";
import { isaTemplateBytes } from "./isa-templates.ts";
import {
	annotationSheets,
	isaTypeOf,
	metadataSheet,
	rowsLabelled,
	workbookBytes,
} from "./isa-workbook.ts";
import { sendJsonString } from "./json-string.ts";
import { branch, pathInArc, projectId, tags } from "./route-schemas.ts";
import { sanitizeCell, sanitizeInput } from "./sanitize.ts";

const isaPath = (type: string) =>
	pathInArc.refine((path) => isaTypeOf(path) === type, `an isa.${type}.xlsx file`);
/** A name that becomes one folder: spaces become `_` as in the original; no `/`. */
const folderName = z
	.string()
	.trim()
	.min(1)
	.max(255)
	.transform((name) => sanitizeInput(name).replaceAll(" ", "_"))
	.refine((name) => !/[/\\]/.test(name) && name !== "." && name !== "..", "one folder name");

/** The ARC's folders (specs/arcmanager.md §6.5; `arc.cwl` is left out as the original leaves it). */
const ARC_KEEP_FILES = [
	".arc/.gitkeep",
	"assays/.gitkeep",
	"runs/.gitkeep",
	"studies/.gitkeep",
	"workflows/.gitkeep",
];

interface CommitAction {
	readonly action: "create" | "update";
	readonly file_path: string;
	readonly content?: string;
	readonly encoding?: "base64" | "text";
	readonly last_commit_id?: string;
}

const created = (path: string, bytes?: Buffer): CommitAction =>
	bytes === undefined
		? { action: "create", file_path: path, content: "" }
		: { action: "create", file_path: path, content: bytes.toString("base64"), encoding: "base64" };

const gitlabProject = z.looseObject({ id: z.number(), default_branch: z.string().nullish() });

export const isaRoutes: FastifyPluginAsyncZod<{ connect: ConnectService }> = async (
	app,
	{ connect },
) => {
	const projects = `${connect.prefix}/projects`;
	const hubOf = (request: FastifyRequest) => hubApiOf(connect, request);
	const failures = {
		400: connect.detailBody,
		401: connect.detailBody,
		403: connect.detailBody,
		404: connect.detailBody,
		409: connect.detailBody,
		504: connect.detailBody,
	};

	const commit = (
		hub: HubApi,
		id: number,
		ref: string,
		message: string,
		actions: readonly CommitAction[],
	) =>
		hub.ok("POST", `/projects/${id}/repository/commits`, "Could not commit to the ARC", {
			json: { branch: ref, commit_message: message, actions },
		});

	app.post(
		`${projects}/createISA`,
		{
			preHandler: connect.refuseCrossSite,
			schema: {
				tags,
				summary:
					"Create a study or an assay: its folder with isa.study|assay.xlsx (identifier and file name already written), README.md, protocols/ and resources/ or dataset/, in one commit on the branch.",
				body: z.object({
					identifier: folderName,
					id: projectId,
					type: z.enum(["studies", "assays"]),
					branch,
				}),
				response: { 201: z.string(), ...failures },
			},
		},
		async (request, reply) => {
			const hub = await hubOf(request);
			const { identifier, id, type, branch: ref } = request.body;
			const folder = `${type}/${identifier}`;
			const isStudy = type === "studies";
			const workbook = isStudy
				? await isaTemplateBytes("study", {
						"Study Identifier": identifier,
						"Study File Name": `${folder}/isa.study.xlsx`,
					})
				: await isaTemplateBytes("assay", {
						"Assay Measurement Type": identifier,
						"Assay File Name": `${folder}/isa.assay.xlsx`,
					});
			const answer = await commit(hub, id, ref, `Added new ${type} ${identifier}`, [
				created(`${folder}/isa.${isStudy ? "study" : "assay"}.xlsx`, workbook),
				created(`${folder}/${isStudy ? "resources" : "dataset"}/.gitkeep`),
				created(`${folder}/README.md`),
				created(`${folder}/protocols/.gitkeep`),
			]);
			return sendJsonString(reply, 201, JSON.stringify(answer.json));
		},
	);

	app.post(
		`${projects}/addDatamap`,
		{
			preHandler: connect.refuseCrossSite,
			schema: {
				tags,
				summary: "Add a blank isa.datamap.xlsx to a folder of the ARC.",
				body: z.object({ id: projectId, path: pathInArc, branch }),
				response: { 201: z.string(), ...failures },
			},
		},
		async (request, reply) => {
			const hub = await hubOf(request);
			const { id, path, branch: ref } = request.body;
			const answer = await commit(hub, id, ref, "Added new datamap", [
				created(`${path}/isa.datamap.xlsx`, await isaTemplateBytes("datamap")),
			]);
			return sendJsonString(reply, 201, JSON.stringify(answer.json));
		},
	);

	const arcContent = z.object({
		name: z.string().trim().min(1).max(255),
		description: z.string().max(2_000).default(""),
		investIdentifier: z.string().trim().min(1).max(255),
		groupId: z.coerce.number().int().min(1).optional(),
	});
	const investigationValues = (content: z.output<typeof arcContent>) => ({
		"Investigation Identifier": sanitizeInput(content.investIdentifier).replaceAll(" ", "_"),
		"Investigation Title": sanitizeInput(content.name),
		"Investigation Description": sanitizeInput(content.description),
	});

	app.post(
		`${projects}/createArc`,
		{
			preHandler: connect.refuseCrossSite,
			schema: {
				tags,
				summary:
					"Create an ARC: a private GitLab project (in the group given) with the ARC's folders and its isa.investigation.xlsx (identifier, title and description written) in one commit. Answers [project, commit] as GitLab's JSON texts.",
				body: arcContent,
				response: { 201: z.array(z.string()).length(2), ...failures },
			},
		},
		async (request, reply) => {
			const hub = await hubOf(request);
			const content = request.body;
			const projectAnswer = await hub.ok("POST", "/projects", "Could not create the ARC", {
				json: {
					name: sanitizeInput(content.name),
					description: sanitizeInput(content.description),
					initialize_with_readme: true,
					visibility: "private",
					...(content.groupId === undefined ? {} : { namespace_id: content.groupId }),
				},
			});
			const project = gitlabProject.parse(projectAnswer.json);
			const ref = project.default_branch ?? "main";
			// ARCitect rewrites history on sync; the original allowed force pushes. A hub that refuses it
			// still gets a working ARC, so the refusal is logged, not answered.
			const unprotect = await hub.call(
				"PATCH",
				`/projects/${project.id}/protected_branches/${encodeURIComponent(ref)}`,
				{ query: new URLSearchParams({ allow_force_push: "true" }) },
			);
			if (unprotect.status >= 300)
				request.log.info(
					{ status: unprotect.status },
					"arcs: the hub kept force pushes off on the new ARC's branch",
				);
			const commitAnswer = await commit(
				hub,
				project.id,
				ref,
				"Initial commit of the arc structure",
				[
					created(
						"isa.investigation.xlsx",
						await isaTemplateBytes("investigation", investigationValues(content)),
					),
					...ARC_KEEP_FILES.map((path) => created(path)),
				],
			);
			return reply
				.code(201)
				.send([JSON.stringify(projectAnswer.json), JSON.stringify(commitAnswer.json)]);
		},
	);

	app.post(
		`${projects}/repairArc`,
		{
			preHandler: connect.refuseCrossSite,
			schema: {
				tags,
				summary:
					"Give an existing project what an ARC needs and it lacks (its folders; isa.investigation.xlsx, or the identifier, title and description in the one it has), in one commit.",
				querystring: z.object({ id: projectId, branch }),
				body: arcContent,
				response: { 201: z.string(), ...failures },
			},
		},
		async (request, reply) => {
			const hub = await hubOf(request);
			const { id, branch: ref } = request.query;
			const values = investigationValues(request.body);
			const tree = z
				.array(z.looseObject({ path: z.string() }))
				.parse(
					await hub.all(
						`/projects/${id}/repository/tree`,
						"No such ARC or branch",
						new URLSearchParams({ ref, recursive: "true" }),
					),
				);
			const present = new Set(tree.map((entry) => entry.path));
			const actions: CommitAction[] = ARC_KEEP_FILES.filter(
				(path) => !present.has(path) && !present.has(path.split("/")[0] ?? ""),
			).map((path) => created(path));
			if (present.has("isa.investigation.xlsx")) {
				const { workbook, lastCommitId } = await readIsaFile(
					hub,
					id,
					"isa.investigation.xlsx",
					ref,
				);
				const sheet = metadataOf(workbook, "isa.investigation.xlsx");
				for (const [label, value] of Object.entries(values))
					for (const row of rowsLabelled(sheet, label)) sheet.getRow(row).getCell(2).value = value;
				actions.push({
					action: "update",
					file_path: "isa.investigation.xlsx",
					content: (await workbookBytes(workbook)).toString("base64"),
					encoding: "base64",
					last_commit_id: lastCommitId,
				});
			} else
				actions.push(
					created("isa.investigation.xlsx", await isaTemplateBytes("investigation", values)),
				);
			const answer = await commit(hub, id, ref, "Repaired the arc structure", actions);
			return sendJsonString(reply, 201, JSON.stringify(answer.json));
		},
	);

	app.patch(
		`${projects}/syncAssay`,
		{
			preHandler: connect.refuseCrossSite,
			schema: {
				tags,
				summary:
					"Write an assay's first eight metadata rows into the study's STUDY ASSAYS block (the assay's column if it is there, else the first free one), on the branch.",
				body: z.object({
					id: projectId,
					pathToStudy: isaPath("study"),
					pathToAssay: isaPath("assay"),
					assayName: z.string().min(1).max(255),
					branch,
				}),
				response: { 200: z.string(), ...failures },
			},
		},
		async (request, reply) => {
			const hub = await hubOf(request);
			const { id, pathToStudy, pathToAssay, assayName, branch: ref } = request.body;
			const answer = await syncAssayIntoStudy(hub, {
				id,
				ref,
				pathToStudy,
				pathToAssay,
				assayName,
			});
			return sendJsonString(reply, 200, JSON.stringify(answer.json));
		},
	);

	app.patch(
		`${projects}/syncStudy`,
		{
			preHandler: connect.refuseCrossSite,
			schema: {
				tags,
				summary:
					"Copy a study's metadata rows into the investigation: over the study block that names it, else the first empty one, else a new STUDY block at the end; on the branch.",
				body: z.object({
					id: projectId,
					pathToStudy: isaPath("study"),
					studyName: z.string().min(1).max(255),
					branch,
				}),
				response: { 200: z.string(), ...failures },
			},
		},
		async (request, reply) => {
			const hub = await hubOf(request);
			const { id, pathToStudy, studyName, branch: ref } = request.body;
			const answer = await syncStudyIntoInvestigation(hub, { id, ref, pathToStudy, studyName });
			return sendJsonString(reply, 200, JSON.stringify(answer.json));
		},
	);

	const splitSheet = z.object({
		columns: z.array(z.unknown()),
		index: z.array(z.number()),
		data: z.array(z.array(z.unknown())),
	});
	app.get(
		`${connect.prefix}/tnt/getSheets`,
		{
			schema: {
				tags,
				summary:
					"An ISA file's annotation sheets (every sheet but the metadata one; a datamap's every sheet) as pandas' split JSON, and their names: [sheets, names].",
				querystring: z.object({
					path: pathInArc.refine((path) => isaTypeOf(path) !== null, "an isa.*.xlsx file"),
					id: projectId,
					branch,
				}),
				response: { 200: z.tuple([z.array(splitSheet), z.array(z.string())]), ...failures },
			},
		},
		async (request) => {
			const hub = await hubOf(request);
			const { path, id, branch: ref } = request.query;
			const { workbook } = await readIsaFile(hub, id, path, ref);
			return annotationSheets(workbook, isaTypeOf(path) ?? "");
		},
	);

	const cell = z.union([z.string().max(10_000), z.number(), z.boolean(), z.null()]);
	app.put(
		`${connect.prefix}/tnt/saveSheet`,
		{
			preHandler: connect.refuseCrossSite,
			schema: {
				tags,
				summary:
					"Replace (or add) an annotation sheet of an ISA file: columns from tableHead (a custom one marked [C]) filled from tableContent column by column, as an Excel table; committed with last_commit_id.",
				body: z
					.object({
						tableHead: z
							.array(
								z.looseObject({
									Type: z.string().min(1).max(1_000),
									Accession: z.string().max(1_000).nullish(),
									Custom: z.boolean().nullish(),
								}),
							)
							.min(1)
							.max(1_000),
						tableContent: z.array(z.array(cell).max(100_000)).max(1_000),
						path: pathInArc.refine((path) => isaTypeOf(path) !== null, "an isa.*.xlsx file"),
						id: projectId,
						name: z
							.string()
							.trim()
							.min(1)
							.max(31)
							.refine((name) => !/[[\]:*?/\\]/.test(name), "a sheet name without []:*?/\\")
							.default("sheet1"),
						branch,
					})
					.refine((sheet) => sheet.tableContent.length <= sheet.tableHead.length, {
						path: ["tableContent"],
						message: "at most one column per tableHead entry",
					}),
				response: { 200: z.string(), ...failures },
			},
		},
		async (request, reply) => {
			const hub = await hubOf(request);
			const { tableHead, tableContent, path, id, name, branch: ref } = request.body;
			const { workbook, lastCommitId } = await readIsaFile(hub, id, path, ref);
			const isaType = isaTypeOf(path) ?? "";
			const metadata = isaType === "datamap" ? undefined : metadataSheet(workbook, isaType);
			if (metadata?.name === name)
				throw new AppError("invalid_request", {
					description: `name: ${name} is the file's metadata sheet`,
				});
			writeAnnotationSheet(workbook, {
				name,
				tablePrefix: isaType === "datamap" ? "datamapTable" : "annotationTable",
				headers: tableHead.map((column) =>
					sanitizeInput(column.Custom === true ? `${column.Type} [C]` : column.Type),
				),
				columns: tableContent.map((column) => column.map(sanitizeCell)),
			});
			const answer = await saveIsaFile(hub, {
				id,
				path,
				ref,
				workbook,
				lastCommitId,
				message: name,
			});
			return sendJsonString(reply, 200, JSON.stringify(answer.json));
		},
	);
};

/** Replaces (or adds) sheet `name` with an Excel table of these columns. */
function writeAnnotationSheet(
	workbook: ExcelJS.Workbook,
	sheet: {
		name: string;
		tablePrefix: string;
		headers: readonly string[];
		columns: readonly (readonly (string | number | boolean | null)[])[];
	},
): void {
	const existing = workbook.getWorksheet(sheet.name);
	if (existing !== undefined) workbook.removeWorksheet(existing.id);
	const worksheet = workbook.addWorksheet(sheet.name);
	const tableNames = new Set(
		workbook.worksheets.flatMap((candidate) =>
			Object.keys((candidate as unknown as { tables?: Record<string, unknown> }).tables ?? {}),
		),
	);
	let tableName = `${sheet.tablePrefix}${sheet.name.replace(/\W/g, "_")}`;
	while (tableNames.has(tableName)) tableName = `${tableName}123`;
	const height = Math.max(1, ...sheet.columns.map((column) => column.length));
	const uniqueHeaders = sheet.headers.map((header, index) =>
		sheet.headers.indexOf(header) === index ? header : `${header} (${index + 1})`,
	);
	worksheet.addTable({
		name: tableName,
		ref: "A1",
		headerRow: true,
		style: { theme: "TableStyleMedium11", showRowStripes: true, showColumnStripes: true },
		columns: uniqueHeaders.map((header) => ({ name: header })),
		rows: Array.from({ length: height }, (_, row) =>
			uniqueHeaders.map((_header, column) => sheet.columns[column]?.[row] ?? null),
		),
	});
}
