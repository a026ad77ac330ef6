/**
 * A fuzzer driven by the service's own /openapi.json: for every operation it sends requests built from the
 * documented schemas — mostly well-formed, often subtly wrong (wrong types, missing or extra fields, values
 * out of range, prototype keys, deep nesting, bad JSON, odd path segments and headers) — and reports every
 * answer a client should never get: a 5xx, a stack or internal detail in a body, an `internal_error`
 * anywhere (Session protocols wrap their failures in a 200), no answer at all, or a service that stops
 * answering /healthz. Seeded, so a finding can be replayed with the same seed.
 */

type JsonSchema = {
	readonly type?: string | readonly string[];
	readonly enum?: readonly unknown[];
	readonly const?: unknown;
	readonly anyOf?: readonly JsonSchema[];
	readonly oneOf?: readonly JsonSchema[];
	readonly properties?: Readonly<Record<string, JsonSchema>>;
	readonly required?: readonly string[];
	readonly additionalProperties?: JsonSchema | boolean;
	readonly items?: JsonSchema;
	readonly minItems?: number;
	readonly maxItems?: number;
	readonly minimum?: number;
	readonly maximum?: number;
	readonly minLength?: number;
	readonly maxLength?: number;
	readonly pattern?: string;
	readonly format?: string;
	readonly description?: string;
};

interface Parameter {
	readonly name: string;
	readonly in: "path" | "query" | "header";
	readonly required?: boolean;
	readonly schema?: JsonSchema;
}

interface Operation {
	readonly method: string;
	readonly path: string;
	readonly parameters: readonly Parameter[];
	/** The statuses the operation documents. */
	readonly statuses: ReadonlySet<number>;
	readonly body: { readonly contentType: string; readonly schema: JsonSchema } | undefined;
}

export interface FuzzRequest {
	readonly method: string;
	readonly url: string;
	readonly headers: Record<string, string>;
	readonly body: Uint8Array | undefined;
}

export interface FuzzFinding {
	/** Replays with the same seed and `only: index`. */
	readonly index: number;
	readonly operation: string;
	readonly reason: string;
	readonly request: { method: string; url: string; headers: Record<string, string>; body: string };
	readonly status: number | null;
	readonly responseBody: string;
}

export interface FuzzReport {
	readonly seed: number;
	readonly requests: number;
	readonly operations: number;
	readonly byOperation: Readonly<Record<string, number>>;
	readonly byStatus: Readonly<Record<string, number>>;
	readonly findings: readonly FuzzFinding[];
}

export interface FuzzOptions {
	readonly baseUrl: string;
	readonly requests: number;
	readonly seed: number;
	readonly concurrency?: number;
	/** An app API key: sent (in either case of the scheme) on some requests, so authenticated paths are reached. */
	readonly bearerToken?: string;
	/** How long one request may go unanswered before it counts as a hang. */
	readonly requestTimeoutMs?: number;
	/** Sends only the request with this index (to replay a finding). */
	readonly only?: number;
}

/** mulberry32: small, fast and good enough to pick test inputs reproducibly. */
class Random {
	#state: number;

	constructor(seed: number) {
		this.#state = seed >>> 0;
	}

	next(): number {
		this.#state = (this.#state + 0x6d2b79f5) >>> 0;
		let t = this.#state;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
	}

	chance(probability: number): boolean {
		return this.next() < probability;
	}

	int(min: number, max: number): number {
		return min + Math.floor(this.next() * (max - min + 1));
	}

	pick<T>(items: readonly T[]): T {
		const item = items[Math.floor(this.next() * items.length)];
		if (item === undefined) throw new Error("pick from an empty list");
		return item;
	}

	bytes(length: number): Uint8Array {
		const bytes = new Uint8Array(length);
		for (let index = 0; index < length; index += 1) bytes[index] = this.int(0, 255);
		return bytes;
	}
}

const PROTOTYPE_KEYS = ["__proto__", "constructor", "prototype", "toString", "hasOwnProperty"];
const ODD_STRINGS = [
	"",
	" ",
	"constructor",
	"__proto__",
	"..",
	"../../etc/passwd",
	"%2e%2e%2f",
	"a/b",
	"\u0000",
	"é😀",
	"null",
	"-1",
	"1e309",
	"NaN",
	"<script>",
	"' OR 1=1 --",
];
const ODD_NUMBERS = [
	-1,
	0,
	1.5,
	-0.5,
	2 ** 31,
	2 ** 32,
	1e13,
	Number.MAX_SAFE_INTEGER,
	-Number.MAX_SAFE_INTEGER,
	1e300,
];
const WORD_CHARACTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-";

/** Characters of a regex class body such as `A-Za-z0-9_-` or `\x21-\x7e`. */
function classCharacters(body: string): string[] {
	const characters: string[] = [];
	const units: string[] = [];
	for (let index = 0; index < body.length; index += 1) {
		const char = body[index] ?? "";
		if (char === "\\") {
			const next = body[index + 1] ?? "";
			if (next === "x") {
				units.push(String.fromCharCode(Number.parseInt(body.slice(index + 2, index + 4), 16)));
				index += 3;
			} else if (next === "d") {
				units.push("0-9");
				index += 1;
			} else {
				units.push(next);
				index += 1;
			}
		} else units.push(char);
	}
	for (let index = 0; index < units.length; index += 1) {
		const unit = units[index] ?? "";
		if (unit === "0-9") {
			characters.push(..."0123456789");
		} else if (units[index + 1] === "-" && units[index + 2] !== undefined) {
			const from = unit.charCodeAt(0);
			const to = (units[index + 2] ?? "").charCodeAt(0);
			for (let code = from; code <= to; code += 1) characters.push(String.fromCharCode(code));
			index += 2;
		} else characters.push(unit);
	}
	return characters;
}

/** A string matching a simple anchored pattern (classes, \d, literals, quantifiers); null if it is not simple. */
function stringForPattern(pattern: string, random: Random): string | null {
	const match = /^\^(.*)\$$/.exec(pattern);
	if (match === null || /[|()]/.test(match[1] ?? "")) return null;
	const source = match[1] ?? "";
	let out = "";
	let index = 0;
	while (index < source.length) {
		let alphabet: string[];
		const char = source[index] ?? "";
		if (char === "[") {
			const end = source.indexOf("]", index);
			if (end === -1) return null;
			alphabet = classCharacters(source.slice(index + 1, end));
			index = end + 1;
		} else if (char === "\\") {
			const next = source[index + 1] ?? "";
			alphabet = next === "d" ? [..."0123456789"] : next === "w" ? [...WORD_CHARACTERS] : [next];
			index += 2;
		} else {
			alphabet = [char];
			index += 1;
		}
		let min = 1;
		let max = 1;
		const quantifier = /^(\{(\d+)(,(\d*))?\}|\+|\*|\?)/.exec(source.slice(index));
		if (quantifier !== null) {
			index += quantifier[0].length;
			if (quantifier[0] === "+") [min, max] = [1, 12];
			else if (quantifier[0] === "*") [min, max] = [0, 12];
			else if (quantifier[0] === "?") [min, max] = [0, 1];
			else {
				min = Number(quantifier[2]);
				max =
					quantifier[3] === undefined
						? min
						: quantifier[4] === ""
							? min + 12
							: Number(quantifier[4]);
			}
		}
		if (alphabet.length === 0) return null;
		const count = random.int(min, max);
		for (let repeat = 0; repeat < count; repeat += 1) out += random.pick(alphabet);
	}
	return out;
}

function hexOf(bytes: Uint8Array): string {
	return Buffer.from(bytes).toString("hex");
}

class Generator {
	readonly #random: Random;

	constructor(random: Random) {
		this.#random = random;
	}

	/** A value for `schema`: well-formed most of the time, else one wrong thing somewhere. */
	value(schema: JsonSchema | undefined, depth = 0): unknown {
		const random = this.#random;
		if (schema === undefined) return this.#anyValue(depth);
		if (depth < 6 && random.chance(0.06)) return this.#wrongValue(schema, depth);
		if (schema.const !== undefined) return schema.const;
		if (schema.enum !== undefined && schema.enum.length > 0) return random.pick(schema.enum);
		const choices = schema.anyOf ?? schema.oneOf;
		if (choices !== undefined && choices.length > 0)
			return this.value(random.pick(choices), depth + 1);
		const types =
			schema.type === undefined ? [] : Array.isArray(schema.type) ? schema.type : [schema.type];
		const type = types.length === 0 ? undefined : random.pick(types);
		switch (type) {
			case "string":
				return this.#string(schema);
			case "integer":
				return this.#number(schema, true);
			case "number":
				return this.#number(schema, false);
			case "boolean":
				return random.chance(0.5);
			case "null":
				return null;
			case "array": {
				const count = random.int(schema.minItems ?? 0, Math.min(schema.maxItems ?? 4, 4));
				return Array.from({ length: count }, () => this.value(schema.items, depth + 1));
			}
			case "object":
				return this.#object(schema, depth);
			default:
				return this.#anyValue(depth);
		}
	}

	#string(schema: JsonSchema): string {
		const random = this.#random;
		if (random.chance(0.1)) return random.pick(ODD_STRINGS);
		const hexLength = /(\d+) hex characters/.exec(schema.description ?? "");
		if (hexLength !== null) return hexOf(random.bytes(Number(hexLength[1]) / 2));
		if (schema.format === "base64")
			return Buffer.from(random.bytes(random.int(0, 48))).toString("base64");
		if (schema.pattern !== undefined) {
			const matching = stringForPattern(schema.pattern, random);
			if (matching !== null) return matching;
		}
		const length = random.int(schema.minLength ?? 0, Math.min(schema.maxLength ?? 24, 64));
		let text = "";
		for (let index = 0; index < length; index += 1) text += random.pick([...WORD_CHARACTERS]);
		return text;
	}

	#number(schema: JsonSchema, isInteger: boolean): number {
		const random = this.#random;
		if (random.chance(0.15)) return random.pick(ODD_NUMBERS);
		const min = Math.max(schema.minimum ?? -1_000, -1e6);
		const max = Math.min(schema.maximum ?? 1_000_000, 2e9);
		const value = min + random.next() * (max - min);
		return isInteger ? Math.round(value) : value;
	}

	#object(schema: JsonSchema, depth: number): Record<string, unknown> {
		const random = this.#random;
		const object: Record<string, unknown> = {};
		const required = new Set(schema.required ?? []);
		for (const [name, property] of Object.entries(schema.properties ?? {})) {
			if (required.has(name) ? random.chance(0.97) : random.chance(0.6))
				object[name] = this.value(property, depth + 1);
		}
		if (schema.additionalProperties !== false && schema.additionalProperties !== undefined) {
			const extra =
				typeof schema.additionalProperties === "object" ? schema.additionalProperties : undefined;
			for (let count = random.int(0, 3); count > 0; count -= 1)
				object[random.chance(0.2) ? random.pick(PROTOTYPE_KEYS) : this.#string({ maxLength: 12 })] =
					this.value(extra, depth + 1);
		}
		if (random.chance(0.05)) object[random.pick(PROTOTYPE_KEYS)] = this.#anyValue(depth + 1);
		return object;
	}

	#wrongValue(schema: JsonSchema, depth: number): unknown {
		const random = this.#random;
		const wrong = [
			() => null,
			() => random.chance(0.5),
			() => random.pick(ODD_NUMBERS),
			() => random.pick(ODD_STRINGS),
			() => "x".repeat(random.int(1_000, 20_000)),
			() => [],
			() => ({}),
			() => [this.value(schema, depth + 1)],
			() => ({ [random.pick(PROTOTYPE_KEYS)]: 1 }),
		];
		return random.pick(wrong)();
	}

	#anyValue(depth: number): unknown {
		const random = this.#random;
		if (depth > 4) return random.pick([null, 1, "x", true]);
		return random.pick([
			() => random.pick(ODD_STRINGS),
			() => random.pick(ODD_NUMBERS),
			() => random.chance(0.5),
			() => null,
			() => [this.#anyValue(depth + 1)],
			() => ({ [this.#string({ maxLength: 8 })]: this.#anyValue(depth + 1) }),
		])();
	}

	/** One of the body's own fields holding arrays or objects nested 5,000 deep (a 10–30 KB body). */
	#deeplyNested(schema: JsonSchema): string {
		const random = this.#random;
		const field = JSON.stringify(random.pick(Object.keys(schema.properties ?? { data: {} })));
		const depth = 5_000;
		const inner = random.chance(0.5)
			? `${"[".repeat(depth)}${"]".repeat(depth)}`
			: `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
		return `{${field}:${inner}}`;
	}

	/** A request body for the operation, as bytes: usually the schema's JSON, sometimes broken on purpose. */
	body(body: NonNullable<Operation["body"]>): { bytes: Uint8Array; contentType: string } {
		const random = this.#random;
		const contentType = random.chance(0.08)
			? random.pick(["text/plain", "application/x-www-form-urlencoded", "application/json"])
			: body.contentType;
		if (body.schema.format === "binary")
			return { bytes: random.bytes(random.int(0, 4_096)), contentType };
		const roll = random.next();
		let text: string;
		if (roll < 0.04) text = "";
		else if (roll < 0.08) text = '{"unterminated": ';
		else if (roll < 0.13) text = this.#deeplyNested(body.schema);
		else if (roll < 0.16) text = JSON.stringify([this.value(body.schema)]);
		else if (roll < 0.18) text = Buffer.from(random.bytes(64)).toString("latin1");
		else text = JSON.stringify(this.value(body.schema)) ?? "null";
		return { bytes: new TextEncoder().encode(text), contentType };
	}
}

function operationsOf(document: unknown): Operation[] {
	const operations: Operation[] = [];
	const paths =
		typeof document === "object" && document !== null && "paths" in document
			? (document.paths as Record<string, Record<string, Record<string, unknown>>>)
			: {};
	for (const [path, methods] of Object.entries(paths)) {
		for (const [method, operation] of Object.entries(methods)) {
			const content = (
				operation.requestBody as { content?: Record<string, { schema?: JsonSchema }> }
			)?.content;
			const [contentType, media] = Object.entries(content ?? {})[0] ?? [];
			operations.push({
				method: method.toUpperCase(),
				path,
				parameters: (operation.parameters as Parameter[] | undefined) ?? [],
				statuses: new Set(Object.keys(operation.responses ?? {}).map(Number)),
				body: contentType === undefined ? undefined : { contentType, schema: media?.schema ?? {} },
			});
		}
	}
	return operations;
}

function build(
	operation: Operation,
	generator: Generator,
	random: Random,
	token: string | undefined,
): FuzzRequest {
	let path = operation.path;
	const query = new URLSearchParams();
	const headers: Record<string, string> = {};
	for (const parameter of operation.parameters) {
		if (!(parameter.required === true || random.chance(0.6))) continue;
		const raw = generator.value(parameter.schema);
		const text = typeof raw === "string" ? raw : (JSON.stringify(raw) ?? "");
		if (parameter.in === "path")
			path = path.replace(`{${parameter.name}}`, encodeURIComponent(text));
		else if (parameter.in === "query") query.append(parameter.name, text);
		else if (/^[\t\x20-\x7e]*$/.test(text)) headers[parameter.name] = text;
	}
	if (random.chance(0.05)) query.append(random.pick(PROTOTYPE_KEYS), random.pick(ODD_STRINGS));
	if (token !== undefined) {
		const roll = random.next();
		if (roll < 0.45) headers.authorization = `Bearer ${token}`;
		else if (roll < 0.55) headers.authorization = `bearer ${token}`;
		else if (roll < 0.65)
			headers.authorization = random.pick(["Bearer", "Bearer ", "Basic eDp5", `Bearer ${token}x`]);
	}
	let body: Uint8Array | undefined;
	if (operation.body !== undefined && random.chance(0.95)) {
		const generated = generator.body(operation.body);
		body = generated.bytes;
		headers["content-type"] = generated.contentType;
	}
	const search = query.toString();
	return {
		method: operation.method,
		url: search === "" ? path : `${path}?${search}`,
		headers,
		body,
	};
}

/** What a client should never see in an answer: stack frames, source paths, engine errors. */
const INTERNAL_DETAIL = [
	/\bat [\w.<>]+ \(/,
	/at .+\.[cm]?[jt]s:\d+:\d+/,
	/node_modules/,
	/\b(TypeError|ReferenceError|RangeError):/,
	/\bSQLITE_[A-Z]+/,
	/\bECONN(REFUSED|RESET)\b/,
	/internal_error/,
];

/**
 * A 5xx the client should never see: 500 always, 503 while every store is up (as in a fuzz run), and any
 * 5xx the operation does not document. A documented one is a protocol answer (the file server's 502 for
 * a channel with no release, as the original answers).
 */
function isServerFault(operation: Operation, status: number): boolean {
	return status >= 500 && (status === 500 || status === 503 || !operation.statuses.has(status));
}

function describeFinding(
	index: number,
	operation: Operation,
	request: FuzzRequest,
	reason: string,
	status: number | null,
	responseBody: string,
): FuzzFinding {
	return {
		index,
		operation: `${operation.method} ${operation.path}`,
		reason,
		request: {
			method: request.method,
			url: request.url,
			headers: request.headers,
			body:
				request.body === undefined ? "" : Buffer.from(request.body).toString("utf8").slice(0, 500),
		},
		status,
		responseBody: responseBody.slice(0, 500),
	};
}

export async function fuzz(options: FuzzOptions): Promise<FuzzReport> {
	const { baseUrl } = options;
	const documentResponse = await fetch(`${baseUrl}/openapi.json`);
	const operations = operationsOf(await documentResponse.json());
	if (operations.length === 0) throw new Error(`${baseUrl}/openapi.json lists no operations`);
	const byOperation: Record<string, number> = {};
	const byStatus: Record<string, number> = {};
	const findings: FuzzFinding[] = [];
	const timeoutMs = options.requestTimeoutMs ?? 30_000;
	const indexes =
		options.only === undefined
			? Array.from({ length: options.requests }, (_, index) => index)
			: [options.only];
	let next = 0;

	/** Request `index` depends on the seed and the index alone, whatever order the workers send in. */
	function requestNumber(index: number) {
		const random = new Random((options.seed + Math.imul(index + 1, 0x9e3779b1)) >>> 0);
		const operation = random.pick(operations);
		return {
			operation,
			request: build(operation, new Generator(random), random, options.bearerToken),
		};
	}

	async function worker(): Promise<void> {
		for (let index = indexes[next++]; index !== undefined; index = indexes[next++]) {
			const { operation, request } = requestNumber(index);
			const name = `${operation.method} ${operation.path}`;
			byOperation[name] = (byOperation[name] ?? 0) + 1;
			let status: number | null = null;
			let text = "";
			try {
				const response = await fetch(`${baseUrl}${request.url}`, {
					method: request.method,
					headers: request.headers,
					...(request.body === undefined ? {} : { body: request.body }),
					signal: AbortSignal.timeout(timeoutMs),
				});
				status = response.status;
				text = Buffer.from(await response.arrayBuffer()).toString("latin1");
			} catch (error) {
				byStatus.failed = (byStatus.failed ?? 0) + 1;
				const reason = `no answer: ${error instanceof Error ? error.message : String(error)}`;
				findings.push(describeFinding(index, operation, request, reason, null, ""));
				continue;
			}
			byStatus[status] = (byStatus[status] ?? 0) + 1;
			if (isServerFault(operation, status))
				findings.push(describeFinding(index, operation, request, `HTTP ${status}`, status, text));
			else {
				const leak = INTERNAL_DETAIL.find((pattern) => pattern.test(text));
				if (leak !== undefined)
					findings.push(
						describeFinding(index, operation, request, `body matches ${leak}`, status, text),
					);
			}
		}
	}

	await Promise.all(Array.from({ length: options.concurrency ?? 8 }, () => worker()));
	const health = await fetch(`${baseUrl}/healthz`).catch(() => null);
	if (health?.status !== 200)
		findings.push({
			index: -1,
			operation: "GET /healthz",
			reason: "the service stopped answering after the run",
			request: { method: "GET", url: "/healthz", headers: {}, body: "" },
			status: health?.status ?? null,
			responseBody: "",
		});
	return {
		seed: options.seed,
		requests: indexes.length,
		operations: operations.length,
		byOperation,
		byStatus,
		findings,
	};
}
