/**
 * Flattens a config schema into its leaves, so the environment overrides, docs/config.md and the
 * masked `config check` output are all derived from the one schema rather than kept by hand.
 */
import { z } from "zod";

export type FieldKind =
	| "boolean"
	| "number"
	| "string"
	| "enum"
	| "string list"
	| "table list"
	| "table map";

export interface ConfigField {
	/** Dotted path as written in tollgate.toml, e.g. `http.port`. */
	readonly path: string;
	readonly segments: readonly string[];
	/** `TOLLGATE_<SECTION>_<KEY>`; a key in a table below a section joins with `__` (docs/adr/0002). */
	readonly envName: string;
	readonly kind: FieldKind;
	readonly description: string;
	readonly isSecret: boolean;
	readonly isOptional: boolean;
	readonly defaultValue: unknown;
	readonly enumValues: readonly string[];
	/**
	 * The keys of each table in a table list (`[[identity.clients]]` in TOML, one JSON array in the
	 * environment) or a table map (`[connect.hubs.<name>]`, one JSON object in the environment).
	 */
	readonly itemFields: readonly ConfigField[];
}

interface FieldMeta {
	description?: string;
	secret?: boolean;
}

export type AnySchema = z.core.$ZodType;

function readMeta(schema: AnySchema): FieldMeta {
	const meta = z.globalRegistry.get(schema);
	return {
		...(typeof meta?.description === "string" ? { description: meta.description } : {}),
		...(meta?.secret === true ? { secret: true } : {}),
	};
}

/** Strips default/prefault/optional wrappers, keeping the first description found on the way. */
function unwrap(schema: AnySchema): { inner: AnySchema; meta: FieldMeta; isOptional: boolean } {
	let current = schema;
	let meta: FieldMeta = {};
	let isOptional = false;
	for (;;) {
		meta = { ...readMeta(current), ...meta };
		if (current instanceof z.ZodOptional) {
			isOptional = true;
			current = current.unwrap();
		} else if (current instanceof z.ZodDefault || current instanceof z.ZodPrefault) {
			current = current.unwrap();
		} else {
			return { inner: current, meta: { ...readMeta(current), ...meta }, isOptional };
		}
	}
}

function kindOf(schema: AnySchema, path: string): { kind: FieldKind; enumValues: string[] } {
	if (schema instanceof z.ZodBoolean) return { kind: "boolean", enumValues: [] };
	if (schema instanceof z.ZodNumber) return { kind: "number", enumValues: [] };
	if (schema instanceof z.ZodString) return { kind: "string", enumValues: [] };
	if (schema instanceof z.ZodEnum) return { kind: "enum", enumValues: schema.options.map(String) };
	if (schema instanceof z.ZodArray && schema.element instanceof z.ZodString) {
		return { kind: "string list", enumValues: [] };
	}
	if (schema instanceof z.ZodArray && schema.element instanceof z.ZodObject) {
		return { kind: "table list", enumValues: [] };
	}
	if (schema instanceof z.ZodRecord && schema.valueType instanceof z.ZodObject) {
		return { kind: "table map", enumValues: [] };
	}
	// Split like any list from the environment; the schema then checks each value against the enum.
	if (schema instanceof z.ZodArray && schema.element instanceof z.ZodEnum) {
		return { kind: "string list", enumValues: schema.element.options.map(String) };
	}
	throw new Error(`config field ${path} has a type the environment loader does not know`);
}

/**
 * `http.port` → TOLLGATE_HTTP_PORT; `identity.smtp.host` → TOLLGATE_IDENTITY_SMTP__HOST. Keys hold single
 * underscores themselves (max_file_size_bytes), so only the first level may join with one.
 */
export function envNameOf(segments: readonly string[]): string {
	const [section, ...rest] = segments;
	const name = rest.length === 0 ? String(section) : `${section}_${rest.join("__")}`;
	return `TOLLGATE_${name.toUpperCase()}`;
}

function collect(schema: AnySchema, segments: string[], into: ConfigField[]): void {
	const { inner, meta, isOptional } = unwrap(schema);
	if (inner instanceof z.ZodObject) {
		for (const [key, child] of Object.entries(inner.shape)) {
			collect(child, [...segments, key], into);
		}
		return;
	}
	const path = segments.join(".");
	const parsedDefault = z.safeParse(schema, undefined);
	const itemFields: ConfigField[] = [];
	if (inner instanceof z.ZodArray && inner.element instanceof z.ZodObject)
		collect(inner.element, [], itemFields);
	if (inner instanceof z.ZodRecord && inner.valueType instanceof z.ZodObject)
		collect(inner.valueType, [], itemFields);
	into.push({
		path,
		segments,
		envName: envNameOf(segments),
		...kindOf(inner, path),
		description: meta.description ?? "",
		isSecret: meta.secret === true,
		isOptional,
		defaultValue: parsedDefault.success ? parsedDefault.data : undefined,
		itemFields,
	});
}

export function listConfigFields(schema: AnySchema): readonly ConfigField[] {
	const fields: ConfigField[] = [];
	collect(schema, [], fields);
	return fields;
}
