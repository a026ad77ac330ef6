/**
 * A loopback stand-in for Swate (its current and its older API) and the Swate Template Registry, at the
 * HTTP level. Swate's side is Fable.Remoting as Swate serves it: `/api/<Interface>/<function>`, the
 * arguments POSTed as a JSON array (one element per argument; a function without arguments is also a GET),
 * the result as JSON, a failed call 500 `{"error", "ignored", "handled"}`. What it serves: IOntologyAPIv3
 * searchTerm, IOntologyAPIv2 getAllTermsByParentTerm and getTermSuggestions over a small ontology,
 * IProtocolAPIv1 getProtocolById, ITemplateAPIv1 getTemplates (the JSON text of the template list, as Swate
 * answers it). The registry's `GET /api/v1/templates` lists entries whose `TemplateContent` is a template's
 * JSON text. `faults` makes a path fail: an error status, a body that is not JSON, or no answer at all.
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeTerm {
	readonly Accession: string;
	readonly Name: string;
	readonly Description: string;
	readonly IsObsolete: boolean;
	readonly FK_Ontology: string;
	/** The accession of the term it is_a (not part of Swate's answer). */
	readonly parent?: string;
}

export type SwateFault = { readonly status: number } | "not-json" | "never-answers";

export interface RecordedRequest {
	readonly method: string;
	readonly path: string;
	readonly body: unknown;
}

const ORGANISM = "OBI:0100026";
/** More terms match "organism" than getTerms asks for (50). */
const ORGANISM_ISOLATES = 60;

function ontology(): FakeTerm[] {
	const terms: FakeTerm[] = [
		{
			Accession: ORGANISM,
			Name: "organism",
			Description: "A material entity that is an individual living system.",
			IsObsolete: false,
			FK_Ontology: "OBI",
		},
		{
			Accession: "NCBITaxon:3702",
			Name: "Arabidopsis thaliana",
			Description: "thale cress",
			IsObsolete: false,
			FK_Ontology: "NCBITaxon",
			parent: ORGANISM,
		},
		{
			Accession: "NCBITaxon:4530",
			Name: "Oryza sativa",
			Description: "rice",
			IsObsolete: false,
			FK_Ontology: "NCBITaxon",
			parent: ORGANISM,
		},
		{
			Accession: "NCBITaxon:39947",
			Name: "Oryza sativa Japonica Group",
			Description: "Japanese rice",
			IsObsolete: false,
			FK_Ontology: "NCBITaxon",
			parent: "NCBITaxon:4530",
		},
		{
			Accession: "EFO:0000635",
			Name: "organism part",
			Description: "The part of organism's anatomy or substance arising from an organism.",
			IsObsolete: false,
			FK_Ontology: "EFO",
		},
		{
			Accession: "UO:0000027",
			Name: "degree Celsius",
			Description: "A temperature unit which is equal to one kelvin.",
			IsObsolete: false,
			FK_Ontology: "UO",
		},
	];
	for (let index = 1; index <= ORGANISM_ISOLATES; index += 1)
		terms.push({
			Accession: `FAKE:${String(index).padStart(7, "0")}`,
			Name: `organism isolate ${index}`,
			Description: "",
			IsObsolete: index % 10 === 0,
			FK_Ontology: "FAKE",
			parent: ORGANISM,
		});
	return terms;
}

/** Templates in ARCtrl's JSON, with the author fields ARCtrl writes beyond the frontend's three. */
function templates(): unknown[] {
	return [
		{
			id: "52953c18-2f3e-41e4-9b64-e4b39a6f4685",
			table: {
				name: "RNA extraction",
				header: [
					{ headertype: "Input", values: ["Source Name"] },
					{
						headertype: "Parameter",
						values: [
							{
								annotationValue: "temperature",
								termSource: "PATO",
								termAccession: "http://purl.obolibrary.org/obo/PATO_0000146",
							},
						],
					},
					{ headertype: "Output", values: ["Sample Name"] },
				],
				values: [
					[[0, 0], { celltype: "FreeText", values: [""] }],
					[
						[1, 0],
						{
							celltype: "Unitized",
							values: [
								"",
								{
									annotationValue: "degree Celsius",
									termSource: "UO",
									termAccession: "http://purl.obolibrary.org/obo/UO_0000027",
								},
							],
						},
					],
					[[2, 0], { celltype: "FreeText", values: [""] }],
				],
			},
			name: "RNA extraction",
			description: "Template to describe the extraction of RNA.",
			organisation: "DataPLANT",
			version: "1.2.0",
			authors: [
				{
					firstName: "Hajira",
					lastName: "Jabeen",
					email: "hajira@example.org",
					affiliation: "University of Cologne",
					orcid: "0000-0000-0000-0000",
				},
			],
			endpoint_repositories: [],
			tags: [{ annotationValue: "RNA", termSource: "", termAccession: "" }],
			last_updated: "2024-02-02T23:38:44.0000000",
		},
		{
			id: "a6a8e5c5-2b4d-4e7e-9b5f-0c8e0f2f9d11",
			table: {
				name: "Plant growth",
				header: [
					{ headertype: "Input", values: ["Source Name"] },
					{
						headertype: "Characteristic",
						values: [
							{
								annotationValue: "organism",
								termSource: "OBI",
								termAccession: "http://purl.obolibrary.org/obo/OBI_0100026",
							},
						],
					},
				],
				values: [],
			},
			name: "Plant growth",
			description: "Growth conditions of plants.",
			organisation: "DataPLANT",
			version: "2.0.1",
			authors: [{ firstName: "Dominik", lastName: "Brilhaus" }],
			endpoint_repositories: [],
			tags: [],
			last_updated: "2024-05-06T10:00:00.0000000",
		},
	];
}

/** The older Swate's protocol, with the building blocks the deprecated getTemplate passes on. */
const PROTOCOLS = new Map([
	[
		"1SPL01_plants",
		{
			Id: "1SPL01_plants",
			Name: "1SPL01_plants",
			TemplateBuildingBlocks: [
				{
					ColumnHeader: {
						Type: "Characteristics",
						Name: "Characteristics [organism]",
						isSingleColumn: false,
						isInputColumn: false,
						isOutputColumn: false,
						isFeaturedColumn: false,
						isTermColumn: true,
					},
					ColumnTerm: {
						Name: "organism",
						TermAccession: ORGANISM,
						toNumberFormat: "",
						accessionToTSR: "OBI",
						accessionToTAN: "http://purl.obolibrary.org/obo/OBI_0100026",
					},
					UnitTerm: null,
					Rows: [],
					HasUnit: false,
					HasExistingTerm: true,
					HasCompleteTerm: true,
					HasValues: false,
				},
			],
		},
	],
]);

class RemotingError extends Error {}

function readBody(request: IncomingMessage): Promise<string> {
	return new Promise((resolve, reject) => {
		const chunks: Buffer[] = [];
		request.on("data", (chunk: Buffer) => chunks.push(chunk));
		request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
		request.on("error", reject);
	});
}

function json(response: ServerResponse, status: number, body: unknown): void {
	const text = JSON.stringify(body);
	response
		.writeHead(status, {
			"content-type": "application/json; charset=utf-8",
			"content-length": Buffer.byteLength(text),
		})
		.end(text);
}

function record(value: unknown, what: string): Record<string, unknown> {
	if (typeof value !== "object" || value === null || Array.isArray(value))
		throw new RemotingError(`${what}: expected a record`);
	return value as Record<string, unknown>;
}

function stringField(fields: Record<string, unknown>, name: string): string {
	const value = fields[name];
	if (typeof value !== "string") throw new RemotingError(`field ${name}: expected a string`);
	return value;
}

/** The one argument of a Fable.Remoting call: the body must be a JSON array holding it. */
function onlyArgument(args: unknown): unknown {
	if (!Array.isArray(args) || args.length !== 1)
		throw new RemotingError("expected a JSON array of one argument");
	return args[0];
}

function answerOf({ Accession, Name, Description, IsObsolete, FK_Ontology }: FakeTerm) {
	return { Accession, Name, Description, IsObsolete, FK_Ontology };
}

export class FakeSwate {
	/** Every request, in order: method, path and the parsed JSON body (undefined without one). */
	readonly requests: RecordedRequest[] = [];
	/** Paths answered with a fault instead of their result (e.g. "/api/v1/templates"). */
	readonly faults = new Map<string, SwateFault>();
	/** Registry entries besides the templates' own (e.g. one whose TemplateContent is no template). */
	readonly extraRegistryEntries: unknown[] = [];
	readonly terms = ontology();
	readonly templates = templates();
	readonly #server: Server;
	readonly #hanging = new Set<ServerResponse>();

	private constructor(server: Server) {
		this.#server = server;
	}

	static async start(): Promise<FakeSwate> {
		const server = createServer();
		const fake = new FakeSwate(server);
		server.listen(0, "127.0.0.1");
		await once(server, "listening");
		server.on("request", (request, response) => {
			fake.#handle(request, response).catch((error: unknown) => {
				if (error instanceof RemotingError)
					json(response, 500, { error: error.message, ignored: true, handled: true });
				else response.writeHead(500).end(String(error));
			});
		});
		return fake;
	}

	get url(): string {
		return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
	}

	/** Requests to one path. */
	requestsTo(path: string): RecordedRequest[] {
		return this.requests.filter((request) => request.path === path);
	}

	async close(): Promise<void> {
		for (const response of this.#hanging) response.destroy();
		this.#server.closeAllConnections();
		await new Promise((resolve) => this.#server.close(resolve));
	}

	async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
		const path = new URL(request.url ?? "/", "http://fake").pathname;
		const text = await readBody(request);
		const method = request.method ?? "GET";
		let body: unknown;
		if (text !== "")
			try {
				body = JSON.parse(text);
			} catch {
				throw new RemotingError("the body is not JSON");
			}
		this.requests.push({ method, path, body });
		const fault = this.faults.get(path);
		if (fault === "never-answers") {
			this.#hanging.add(response);
			return;
		}
		if (fault === "not-json") {
			response.writeHead(200, { "content-type": "text/html" }).end("<html>maintenance</html>");
			return;
		}
		if (fault !== undefined) {
			json(response, fault.status, { error: "failing on purpose", ignored: true, handled: true });
			return;
		}
		if (path === "/api/v1/templates" && method === "GET") {
			json(response, 200, [
				...this.templates.map((content, index) => ({
					TemplateId: record(content, "template").id,
					TemplateName: record(content, "template").name,
					TemplateMajorVersion: index + 1,
					TemplateMinorVersion: 0,
					TemplatePatchVersion: 0,
					TemplateContent: JSON.stringify(content),
				})),
				...this.extraRegistryEntries,
			]);
			return;
		}
		if (path === "/api/ITemplateAPIv1/getTemplates" && (method === "GET" || method === "POST")) {
			// Swate's interface returns the list as a string: Fable.Remoting cannot encode ARCtrl's types.
			json(response, 200, JSON.stringify(this.templates));
			return;
		}
		if (method !== "POST") {
			response.writeHead(404).end("Not Found");
			return;
		}
		const result = this.#invoke(path, body);
		if (result === undefined) response.writeHead(404).end("Not Found");
		else json(response, 200, result);
	}

	/** A Swate function's result, or undefined for a path Swate does not serve. */
	#invoke(path: string, args: unknown): unknown {
		switch (path) {
			case "/api/IOntologyAPIv3/searchTerm": {
				const query = record(onlyArgument(args), "TermQueryDto");
				const limit = typeof query.limit === "number" ? query.limit : 10;
				return this.#matching(stringField(query, "query")).slice(0, limit).map(answerOf);
			}
			case "/api/IOntologyAPIv2/getAllTermsByParentTerm": {
				const parent = record(onlyArgument(args), "TermMinimal");
				stringField(parent, "Name");
				return this.#below(stringField(parent, "TermAccession")).map(answerOf);
			}
			case "/api/IOntologyAPIv2/getTermSuggestions": {
				const query = record(onlyArgument(args), "{| n; query; ontology |}");
				if (typeof query.n !== "number") throw new RemotingError("field n: expected an int");
				if (!("ontology" in query)) throw new RemotingError("field ontology: missing");
				return this.#matching(stringField(query, "query")).slice(0, query.n).map(answerOf);
			}
			case "/api/IProtocolAPIv1/getProtocolById": {
				const id = onlyArgument(args);
				if (typeof id !== "string") throw new RemotingError("expected a string");
				const protocol = PROTOCOLS.get(id);
				if (protocol === undefined) throw new RemotingError(`No protocol with id ${id}`);
				return protocol;
			}
			default:
				return undefined;
		}
	}

	/** Terms whose name contains the query, the exact match first. */
	#matching(query: string): FakeTerm[] {
		const needle = query.toLowerCase();
		return this.terms
			.filter((term) => term.Name.toLowerCase().includes(needle))
			.sort(
				(a, b) => Number(b.Name.toLowerCase() === needle) - Number(a.Name.toLowerCase() === needle),
			);
	}

	/** Every term below a parent, transitively. */
	#below(accession: string): FakeTerm[] {
		const children = this.terms.filter((term) => term.parent === accession);
		return children.flatMap((child) => [child, ...this.#below(child.Accession)]);
	}
}
