/**
 * The search index of public ARCs (specs/arcmanager.md §6.2, the original's createArcJson), built by a
 * leased job instead of an open route (§0.2 #7). Each hub's public projects are listed anonymously, every
 * page; a project is read (its license, the assays each `isa.study.xlsx` names, the identifier, contacts
 * and publications of `isa.investigation.xlsx`) only when its `last_activity_at` differs from the one
 * its stored document was read at, else only its listing fields are refreshed. A hub that cannot be
 * listed keeps its entries; a project a finished listing left out is removed once the hub says it is
 * gone (404), so a listing whose pages shifted removes nothing. Work per run is bounded: reads per hub,
 * pages, studies per project, file sizes, four reads at a time, every call with a timeout and the run's
 * signal.
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { z } from "zod";
import type { ConnectService, Hub, UpstreamAnswer } from "#modules/connect";
import { type CellValue, metadataSheet, readWorkbook, rowsOf } from "./isa-workbook.ts";
import type { SearchIndexStore } from "./search-store.ts";

const LISTING_PAGE_SIZE = 100;
/** 20,000 public projects a hub: a listing stops there and then removes nothing. */
const MAX_LISTING_PAGES = 200;
/** Projects read per hub and run; the others keep their entry (or wait for theirs) until a later run. */
const MAX_READS_PER_HUB_RUN = 200;
const READ_CONCURRENCY = 4;
const MAX_TREE_PAGES = 10;
const MAX_STUDIES_READ = 50;
/** ISA files larger than this are not read (they hold metadata; a larger one is not an ISA file). */
const MAX_ISA_FILE_BYTES = 10 * 1024 * 1024;
/** Left-out projects asked about per hub and run. */
const MAX_REMOVAL_CHECKS = 100;
/** The original's 11 contact rows and 7 publication rows (§6.2). */
const CONTACT_ROWS = 11;
const PUBLICATION_ROWS = 7;

const cell = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const isaRecord = z.record(z.string(), cell);

/** One entry of getArcJson, in the original's field order. */
export const searchDocumentSchema = z
	.object({
		datahub: z.string().meta({ description: "The hub's name (connect.hubs)." }),
		id: z.number(),
		name: z.string(),
		description: z.string().nullable(),
		topics: z.array(z.string()),
		author: z.object({
			name: z.string().meta({ description: "The namespace's name." }),
			username: z.string().meta({ description: "The namespace's full path." }),
		}),
		created_at: z.string().meta({ description: "`YYYY-MM-DD HH:MM:SS` (UTC)." }),
		last_activity: z.string().meta({ description: "`YYYY-MM-DD HH:MM:SS` (UTC)." }),
		license: z
			.record(z.string(), z.unknown())
			.nullable()
			.meta({ description: "GitLab's license object; null for none, {} when unreadable." }),
		identifier: z.string().meta({ description: "The Investigation Identifier; empty for none." }),
		url: z.string().meta({ description: "The project's http_url_to_repo." }),
		assay_study_relation: z.record(z.string(), z.array(z.string())).meta({
			description:
				"Each study's assays (as its isa.study.xlsx names them); `other`: assays no study names.",
		}),
		contacts: z.array(isaRecord).meta({
			description: "The investigation's contacts: its contact rows' labels to one column's values.",
		}),
		publications: z.array(isaRecord).meta({
			description: "The investigation's publications, as contacts.",
		}),
	})
	.meta({ description: "A public ARC in the search index." });

export type SearchDocument = z.output<typeof searchDocumentSchema>;

type ReadFields = Pick<
	SearchDocument,
	"license" | "identifier" | "assay_study_relation" | "contacts" | "publications"
>;

const listedProject = z.looseObject({
	id: z.number().int().positive(),
	name: z.string(),
	description: z.string().nullish(),
	topics: z.array(z.string()).default([]),
	namespace: z.looseObject({ name: z.string(), full_path: z.string() }),
	created_at: z.string(),
	last_activity_at: z.string(),
	http_url_to_repo: z.string(),
	default_branch: z.string().nullish(),
});
type ListedProject = z.output<typeof listedProject>;

const licensed = z.looseObject({ license: z.record(z.string(), z.unknown()).nullish() });
const treeEntry = z.looseObject({ name: z.string(), type: z.string() });

/** GitLab's `2026-11-01T10:00:00.000Z` as the original wrote it: `2026-11-01 10:00:00`. */
export function searchTime(gitlabTime: string): string {
	const match = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})/.exec(gitlabTime);
	return match === null ? gitlabTime : `${match[1]} ${match[2]}`;
}

function documentOf(hub: string, project: ListedProject, read: ReadFields): SearchDocument {
	return {
		datahub: hub,
		id: project.id,
		name: project.name,
		description: project.description ?? null,
		topics: project.topics,
		author: { name: project.namespace.name, username: project.namespace.full_path },
		created_at: searchTime(project.created_at),
		last_activity: searchTime(project.last_activity_at),
		license: read.license,
		identifier: read.identifier,
		url: project.http_url_to_repo,
		assay_study_relation: read.assay_study_relation,
		contacts: read.contacts,
		publications: read.publications,
	};
}

/** The read fields of a stored document; null when it cannot be parsed (it is read again). */
function readFieldsOf(documentText: string): ReadFields | null {
	let json: unknown;
	try {
		json = JSON.parse(documentText);
	} catch {
		return null;
	}
	const parsed = searchDocumentSchema.safeParse(json);
	if (!parsed.success) return null;
	const { license, identifier, assay_study_relation, contacts, publications } = parsed.data;
	return { license, identifier, assay_study_relation, contacts, publications };
}

const labelOf = (row: readonly CellValue[] | undefined) => {
	const label = row?.[0];
	return label === null || label === undefined ? null : String(label);
};

/** A section marker row: `INVESTIGATION CONTACTS`, `STUDY`, … (upper case, nothing after it). */
function isSectionMarker(row: readonly CellValue[]): boolean {
	const label = labelOf(row);
	return (
		label !== null && /^[A-Z][A-Z _]*$/.test(label) && row.slice(1).every((value) => value === null)
	);
}

/**
 * The columns of the block of at most `size` rows after a section marker, each as its rows' labels to
 * its values; a column counts when its row `keyRow` has a value (the original's rule: the last name for
 * contacts, the DOI for publications). A short block ends at the next marker.
 */
function recordsAfter(
	rows: readonly CellValue[][],
	marker: string,
	size: number,
	keyRow: number,
): Record<string, CellValue>[] {
	const start = rows.findIndex((row) => labelOf(row) === marker);
	if (start === -1) return [];
	const block: CellValue[][] = [];
	for (const row of rows.slice(start + 1, start + 1 + size)) {
		if (isSectionMarker(row)) break;
		block.push(row);
	}
	const width = Math.max(0, ...block.map((row) => row.length));
	const records: Record<string, CellValue>[] = [];
	for (let column = 1; column < width; column += 1) {
		const key = block[keyRow]?.[column];
		if (key === null || key === undefined) continue;
		records.push(
			Object.fromEntries(
				block.flatMap((row) => {
					const label = labelOf(row);
					return label === null ? [] : [[label, row[column] ?? null]];
				}),
			),
		);
	}
	return records;
}

/** Identifier, contacts and publications of an investigation's metadata rows. */
export function investigationFacts(
	rows: readonly CellValue[][],
): Pick<ReadFields, "identifier" | "contacts" | "publications"> {
	const identifier = rows.find((row) => labelOf(row) === "Investigation Identifier")?.[1];
	return {
		identifier: identifier === null || identifier === undefined ? "" : String(identifier),
		contacts: recordsAfter(rows, "INVESTIGATION CONTACTS", CONTACT_ROWS, 0),
		publications: recordsAfter(rows, "INVESTIGATION PUBLICATIONS", PUBLICATION_ROWS, 1),
	};
}

/** The assays a study's `Study Assay File Name` row names: the folder of each `…/<assay>/isa.assay.xlsx`. */
export function assaysNamedBy(rows: readonly CellValue[][]): string[] {
	const row = rows.find((candidate) => labelOf(candidate) === "Study Assay File Name");
	return (row?.slice(1) ?? []).flatMap((value) => {
		if (value === null) return [];
		const folder = String(value).split(/[/\\]/).at(-2);
		return folder === undefined || folder === "" ? [] : [folder];
	});
}

async function metadataRows(bytes: Uint8Array | null, isaType: string): Promise<CellValue[][]> {
	if (bytes === null) return [];
	try {
		const sheet = metadataSheet(await readWorkbook(bytes), isaType);
		return sheet === undefined ? [] : rowsOf(sheet);
	} catch {
		// Not a workbook (an LFS pointer, a broken file): the ARC is indexed without it.
		return [];
	}
}

/** A hub that cannot be listed (down, too slow, refusing): its entries stay as they are. */
class HubSkippedError extends Error {
	constructor(hub: string, cause: unknown) {
		super(`the hub ${hub} could not be indexed`, { cause });
		this.name = "HubSkippedError";
	}
}

/** A project whose read failed on the hub's side (5xx, 429): its entry stays as it is. */
class ProjectSkippedError extends Error {
	constructor(status: number) {
		super(`the hub answered ${status}`);
		this.name = "ProjectSkippedError";
	}
}

const isHubFailure = (status: number) => status === 429 || status >= 500;

interface JsonAnswer {
	readonly status: number;
	readonly headers: UpstreamAnswer["headers"];
	readonly json: unknown;
}

/** Anonymous GETs below a hub's /api/v4, each with the run's signal and a timeout. */
class PublicHub {
	readonly #connect: ConnectService;
	readonly #hub: Hub;
	readonly #signal: AbortSignal;
	readonly #timeoutMs: number;

	constructor(connect: ConnectService, hub: Hub, signal: AbortSignal, timeoutMs: number) {
		this.#connect = connect;
		this.#hub = hub;
		this.#signal = signal;
		this.#timeoutMs = timeoutMs;
	}

	async json(path: string, query = new URLSearchParams()): Promise<JsonAnswer> {
		return this.#guarded(async () => {
			const answer = await this.#get(path, query);
			const text = await answer.body.text();
			let json: unknown = null;
			try {
				json = text === "" ? null : JSON.parse(text);
			} catch {
				json = text;
			}
			return { status: answer.status, headers: answer.headers, json };
		});
	}

	/** A file's bytes; null when it is absent or larger than `maxBytes`. */
	async bytes(path: string, query: URLSearchParams, maxBytes: number): Promise<Uint8Array | null> {
		return this.#guarded(async () => {
			const answer = await this.#get(path, query);
			if (answer.status !== 200) {
				await answer.body.dump();
				if (isHubFailure(answer.status)) throw new ProjectSkippedError(answer.status);
				return null;
			}
			const pieces: Buffer[] = [];
			let size = 0;
			for await (const piece of answer.body) {
				const bytes = Buffer.from(piece);
				size += bytes.length;
				if (size > maxBytes) {
					answer.body.destroy();
					return null;
				}
				pieces.push(bytes);
			}
			return Buffer.concat(pieces);
		});
	}

	#get(path: string, query: URLSearchParams): Promise<UpstreamAnswer> {
		return this.#connect.callAnonymously(this.#hub, {
			method: "GET",
			path: `/api/v4${path}`,
			query: query.toString(),
			headers: { accept: "application/json" },
			signal: AbortSignal.any([this.#signal, AbortSignal.timeout(this.#timeoutMs)]),
		});
	}

	/** Whatever stops a call short (the hub unreachable, its timeout) skips the hub, unless the run ends. */
	async #guarded<T>(call: () => Promise<T>): Promise<T> {
		try {
			return await call();
		} catch (error) {
			if (error instanceof ProjectSkippedError || this.#signal.aborted) throw error;
			throw new HubSkippedError(this.#hub.name, error);
		}
	}
}

/** Runs `work` on every item, `limit` at a time; the first failure stops the others from starting. */
async function eachLimited<T>(
	items: readonly T[],
	limit: number,
	signal: AbortSignal,
	work: (item: T) => Promise<void>,
): Promise<void> {
	let next = 0;
	const failures: unknown[] = [];
	const worker = async () => {
		while (failures.length === 0 && !signal.aborted) {
			const item = items[next];
			if (item === undefined) return;
			next += 1;
			try {
				await work(item);
			} catch (error) {
				failures.push(error);
			}
		}
	};
	await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
	if (failures.length > 0) throw failures[0];
}

export interface HubOutcome {
	readonly listed: number;
	readonly read: number;
	readonly removed: number;
	readonly isListingComplete: boolean;
}

export interface SearchIndexerOptions {
	readonly connect: ConnectService;
	readonly store: SearchIndexStore;
	readonly logger: Logger;
	/** The hubs indexed, by name. */
	readonly hubNames: readonly string[];
	/** How long one call to a hub may take. */
	readonly timeoutMs: number;
}

export class SearchIndexer {
	readonly #options: SearchIndexerOptions;

	constructor(options: SearchIndexerOptions) {
		this.#options = options;
	}

	/** One run: every hub in turn; a hub that cannot be indexed is logged and keeps its entries. */
	async run(signal: AbortSignal, nowMs: number): Promise<void> {
		const { connect, store, logger, hubNames } = this.#options;
		if (hubNames.length === 0) return;
		const dropped = await store.removeHubsOtherThan(hubNames);
		if (dropped > 0)
			logger.info({ dropped }, "arcs: search entries of hubs no longer indexed removed");
		for (const name of hubNames) {
			if (signal.aborted) return;
			let hub: Hub;
			try {
				hub = connect.hub(name);
			} catch (error) {
				logger.warn(
					{ hub: name, reason: error instanceof Error ? error.message : String(error) },
					"arcs: arcs.search_hubs names a hub connect does not know",
				);
				continue;
			}
			try {
				const outcome = await this.#indexHub(hub, signal, nowMs);
				logger.info({ hub: name, ...outcome }, "arcs: search index updated");
			} catch (error) {
				if (signal.aborted) return;
				if (!(error instanceof HubSkippedError)) throw error;
				const { cause } = error;
				logger.warn(
					{ hub: name, reason: cause instanceof Error ? cause.message : String(cause) },
					"arcs: the search index keeps the hub's previous entries: it could not be read",
				);
			}
		}
	}

	async #indexHub(target: Hub, signal: AbortSignal, nowMs: number): Promise<HubOutcome> {
		const { connect, store, timeoutMs } = this.#options;
		const name = target.name;
		const hub = new PublicHub(connect, target, signal, timeoutMs);
		const runId = randomUUID();
		let listed = 0;
		let readBudget = MAX_READS_PER_HUB_RUN;
		let read = 0;
		let isListingComplete = false;
		for (let page = 1; page <= MAX_LISTING_PAGES && !signal.aborted; page += 1) {
			const answer = await hub.json(
				"/projects",
				new URLSearchParams({
					visibility: "public",
					simple: "true",
					order_by: "id",
					sort: "asc",
					per_page: String(LISTING_PAGE_SIZE),
					page: String(page),
				}),
			);
			if (answer.status !== 200 || !Array.isArray(answer.json))
				throw new HubSkippedError(name, new Error(`its listing answered ${answer.status}`));
			const projects = answer.json.flatMap((item) => {
				const parsed = listedProject.safeParse(item);
				return parsed.success ? [parsed.data] : [];
			});
			listed += projects.length;
			const stored = await store.entriesOf(
				name,
				projects.map((project) => project.id),
			);
			const toRead: ListedProject[] = [];
			for (const project of projects) {
				const entry = stored.get(project.id);
				const kept =
					entry !== undefined && entry.lastActivityAt === project.last_activity_at
						? readFieldsOf(entry.document)
						: null;
				if (entry !== undefined && kept !== null) {
					const document = JSON.stringify(documentOf(name, project, kept));
					if (document !== entry.document) await store.replaceDocument(name, project.id, document);
				} else if (readBudget > 0) {
					readBudget -= 1;
					toRead.push(project);
				}
			}
			await store.markListed(name, [...stored.keys()], runId);
			await eachLimited(toRead, READ_CONCURRENCY, signal, async (project) => {
				if (await this.#readProject(hub, name, project, runId, nowMs)) read += 1;
			});
			const nextPage = answer.headers["x-next-page"];
			const hasNext =
				nextPage === undefined ? answer.json.length === LISTING_PAGE_SIZE : String(nextPage) !== "";
			if (!hasNext) {
				isListingComplete = true;
				break;
			}
		}
		const removed =
			isListingComplete && !signal.aborted ? await this.#removeGone(hub, name, runId) : 0;
		return { listed, read, removed, isListingComplete };
	}

	/** Reads and stores one project's document; false when it was skipped or is gone. */
	async #readProject(
		hub: PublicHub,
		name: string,
		project: ListedProject,
		runId: string,
		nowMs: number,
	): Promise<boolean> {
		const { store, logger } = this.#options;
		try {
			const details = await hub.json(
				`/projects/${project.id}`,
				new URLSearchParams({ license: "true" }),
			);
			if (details.status === 404) {
				await store.remove(name, project.id);
				return false;
			}
			if (isHubFailure(details.status)) throw new ProjectSkippedError(details.status);
			const license = licensed.safeParse(details.json);
			const read: ReadFields = {
				license: license.success ? (license.data.license ?? null) : {},
				...(await this.#filesOf(hub, project)),
			};
			await store.saveRead(
				name,
				project.id,
				{
					lastActivityAt: project.last_activity_at,
					document: JSON.stringify(documentOf(name, project, read)),
				},
				runId,
				nowMs,
			);
			return true;
		} catch (error) {
			if (!(error instanceof ProjectSkippedError)) throw error;
			logger.debug(
				{ hub: name, project: project.id, reason: error.message },
				"arcs: a project's search entry was not refreshed",
			);
			return false;
		}
	}

	async #filesOf(hub: PublicHub, project: ListedProject): Promise<Omit<ReadFields, "license">> {
		const branch = project.default_branch;
		// An empty repository has no default branch, nor files.
		if (branch === null || branch === undefined)
			return { identifier: "", assay_study_relation: {}, contacts: [], publications: [] };
		const ref = new URLSearchParams({ ref: branch });
		const file = (path: string) =>
			hub.bytes(
				`/projects/${project.id}/repository/files/${encodeURIComponent(path)}/raw`,
				ref,
				MAX_ISA_FILE_BYTES,
			);
		const assays = await this.#folderNames(hub, project.id, "assays", branch);
		const studies = await this.#folderNames(hub, project.id, "studies", branch);
		const relation = new Map<string, string[]>();
		for (const study of studies.slice(0, MAX_STUDIES_READ))
			relation.set(
				study,
				assaysNamedBy(await metadataRows(await file(`studies/${study}/isa.study.xlsx`), "study")),
			);
		const named = new Set([...relation.values()].flat());
		const other = assays.filter((assay) => !named.has(assay));
		if (other.length > 0) relation.set("other", other);
		const investigation = await metadataRows(await file("isa.investigation.xlsx"), "investigation");
		return {
			...investigationFacts(investigation),
			assay_study_relation: Object.fromEntries(relation),
		};
	}

	/** The names of a folder's sub-folders (every page); none when the folder is absent. */
	async #folderNames(
		hub: PublicHub,
		projectId: number,
		folder: string,
		branch: string,
	): Promise<string[]> {
		const names: string[] = [];
		for (let page = 1; page <= MAX_TREE_PAGES; page += 1) {
			const answer = await hub.json(
				`/projects/${projectId}/repository/tree`,
				new URLSearchParams({
					path: folder,
					ref: branch,
					per_page: String(LISTING_PAGE_SIZE),
					page: String(page),
				}),
			);
			if (isHubFailure(answer.status)) throw new ProjectSkippedError(answer.status);
			if (answer.status !== 200 || !Array.isArray(answer.json)) break;
			for (const item of answer.json) {
				const entry = treeEntry.safeParse(item);
				if (entry.success && entry.data.type === "tree") names.push(entry.data.name);
			}
			const nextPage = answer.headers["x-next-page"];
			if (nextPage === undefined || String(nextPage) === "") break;
		}
		return names;
	}

	/**
	 * Removes the entries a finished listing left out, once the hub answers 404 for them (no longer
	 * public, or deleted); one it still shows stays (the listing's pages shifted while it was read).
	 */
	async #removeGone(hub: PublicHub, name: string, runId: string): Promise<number> {
		const { store } = this.#options;
		let removed = 0;
		for (const projectId of await store.unlisted(name, runId, MAX_REMOVAL_CHECKS)) {
			const answer = await hub.json(`/projects/${projectId}`);
			if (answer.status !== 404) continue;
			await store.remove(name, projectId);
			removed += 1;
		}
		return removed;
	}
}
