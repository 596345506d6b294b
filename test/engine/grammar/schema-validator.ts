// A small JSON Schema validator for the subset the grammar compiler takes (written from the
// JSON Schema 2020-12 validation spec, independently of src/engine/grammar), so tests check
// generated values against the schema itself rather than against the grammar that made them.
// Returns the first problem found, or null.

type Schema = boolean | Record<string, unknown>;

export function validate(value: unknown, schema: Schema, root: Schema = schema, at = '$'): string | null {
  if (schema === true) return null;
  if (schema === false) return `${at}: false schema`;
  if (typeof schema.$ref === 'string') return validate(value, resolve(root, schema.$ref), root, at);
  if (Array.isArray(schema.anyOf)) {
    const ok = schema.anyOf.some((s) => validate(value, s as Schema, root, at) === null);
    if (!ok) return `${at}: matches no anyOf branch`;
  }
  if (schema.const !== undefined && !deepEqual(value, schema.const)) return `${at}: not the const ${JSON.stringify(schema.const)}`;
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => deepEqual(value, e))) return `${at}: ${JSON.stringify(value)} not in enum`;
  if (schema.type !== undefined) {
    const types = (Array.isArray(schema.type) ? schema.type : [schema.type]) as string[];
    const nullable = schema.nullable === true && value === null;
    if (!nullable && !types.some((t) => hasType(value, t))) return `${at}: ${JSON.stringify(value)} is not of type ${types.join('|')}`;
  }
  if (typeof value === 'string') {
    const n = [...value].length;
    if (typeof schema.minLength === 'number' && n < schema.minLength) return `${at}: shorter than ${schema.minLength}`;
    if (typeof schema.maxLength === 'number' && n > schema.maxLength) return `${at}: longer than ${schema.maxLength}`;
    if ([...value].some((c) => { const p = c.codePointAt(0)!; return p >= 0xd800 && p <= 0xdfff; })) return `${at}: lone surrogate`;
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return `${at}: not finite`;
    if (typeof schema.minimum === 'number' && value < schema.minimum) return `${at}: ${value} < minimum ${schema.minimum}`;
    if (typeof schema.maximum === 'number' && value > schema.maximum) return `${at}: ${value} > maximum ${schema.maximum}`;
    if (typeof schema.exclusiveMinimum === 'number' && value <= schema.exclusiveMinimum) return `${at}: ${value} <= exclusiveMinimum`;
    if (typeof schema.exclusiveMaximum === 'number' && value >= schema.exclusiveMaximum) return `${at}: ${value} >= exclusiveMaximum`;
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) return `${at}: fewer than ${schema.minItems} items`;
    if (typeof schema.maxItems === 'number' && value.length > schema.maxItems) return `${at}: more than ${schema.maxItems} items`;
    if (schema.items !== undefined) {
      for (let i = 0; i < value.length; i++) {
        const p = validate(value[i], schema.items as Schema, root, `${at}[${i}]`);
        if (p !== null) return p;
      }
    }
  }
  if (isObject(value)) {
    const props = (schema.properties ?? {}) as Record<string, Schema>;
    for (const r of (schema.required ?? []) as string[]) if (!Object.hasOwn(value, r)) return `${at}: missing required '${r}'`;
    for (const [k, v] of Object.entries(value)) {
      if (Object.hasOwn(props, k)) {
        const p = validate(v, props[k]!, root, `${at}.${k}`);
        if (p !== null) return p;
      } else if (schema.additionalProperties === false) {
        return `${at}: additional property '${k}'`;
      } else if (isObject(schema.additionalProperties) || typeof schema.additionalProperties === 'boolean') {
        const p = validate(v, schema.additionalProperties as Schema, root, `${at}.${k}`);
        if (p !== null) return p;
      }
    }
  }
  return null;
}

function resolve(root: Schema, ref: string): Schema {
  let node: unknown = root;
  for (const part of ref.replace(/^#\/?/, '').split('/').filter((p) => p !== '')) node = (node as Record<string, unknown>)[part];
  if (node === undefined) throw new Error(`unresolvable $ref ${ref}`);
  return node as Schema;
}

function hasType(v: unknown, t: string): boolean {
  switch (t) {
    case 'null': return v === null;
    case 'boolean': return typeof v === 'boolean';
    case 'string': return typeof v === 'string';
    case 'number': return typeof v === 'number';
    case 'integer': return typeof v === 'number' && Number.isInteger(v);
    case 'array': return Array.isArray(v);
    case 'object': return isObject(v);
    default: return false;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a), kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}
