/**
 * An xlsx reader independent of exceljs (which Tollgate writes with): the zip opened with jszip and the
 * workbook's XML read as ECMA-376 lays it out — sheet names and their parts, shared strings, and each
 * cell's value by its reference (`B4`).
 */
import JSZip from "jszip";

const ENTITIES: Readonly<Record<string, string>> = {
	"&lt;": "<",
	"&gt;": ">",
	"&amp;": "&",
	"&quot;": '"',
	"&apos;": "'",
};
const decodeEntities = (text: string) =>
	text.replace(/&(lt|gt|amp|quot|apos);/g, (entity) => ENTITIES[entity] ?? entity);
const texts = (xml: string) =>
	[...xml.matchAll(/<t(?: [^>]*)?>([^<]*)<\/t>/g)]
		.map((match) => decodeEntities(match[1] ?? ""))
		.join("");

/** Sheet name → cell reference → text. */
export async function readXlsx(bytes: Uint8Array): Promise<Map<string, Map<string, string>>> {
	const zip = await JSZip.loadAsync(bytes);
	const read = async (name: string) => (await zip.file(name)?.async("string")) ?? "";
	const shared = [...(await read("xl/sharedStrings.xml")).matchAll(/<si>([\s\S]*?)<\/si>/g)].map(
		(match) => texts(match[1] ?? ""),
	);
	const targets = new Map(
		[
			...(await read("xl/_rels/workbook.xml.rels")).matchAll(
				/<Relationship [^>]*Id="([^"]+)"[^>]*Target="([^"]+)"/g,
			),
		].map((match) => [match[1] ?? "", (match[2] ?? "").replace(/^\/?(xl\/)?/, "xl/")]),
	);
	const sheets = new Map<string, Map<string, string>>();
	for (const match of (await read("xl/workbook.xml")).matchAll(
		/<sheet [^>]*name="([^"]+)"[^>]*r:id="([^"]+)"/g,
	)) {
		const xml = await read(targets.get(match[2] ?? "") ?? "");
		const cells = new Map<string, string>();
		for (const cell of xml.matchAll(/<c r="([A-Z]+\d+)"([^>]*?)(?:\/>|>([\s\S]*?)<\/c>)/g)) {
			const type = /t="([^"]+)"/.exec(cell[2] ?? "")?.[1];
			const inner = cell[3] ?? "";
			const value = /<v>([^<]*)<\/v>/.exec(inner)?.[1];
			if (type === "s" && value !== undefined)
				cells.set(cell[1] ?? "", shared[Number(value)] ?? "");
			else if (type === "inlineStr") cells.set(cell[1] ?? "", texts(inner));
			else if (value !== undefined) cells.set(cell[1] ?? "", decodeEntities(value));
		}
		sheets.set(decodeEntities(match[1] ?? ""), cells);
	}
	return sheets;
}
