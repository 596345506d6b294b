// JSON Schema (the subset OpenAI's strict structured outputs use) compiled to a byte Grammar
// whose every complete sentence is compact JSON (no whitespace outside strings) that validates
// against the schema. What it takes: type (one or a list: nullable), object properties in their
// declared order with required/optional, array items with minItems/maxItems, string
// minLength/maxLength, integer and number bounds, boolean, null, enum, const, anyOf, and $ref
// into $defs/definitions (recursion included: the automaton is a pushdown one). Anything else
// that constrains a value (pattern, format, allOf, oneOf, ...) is refused by name, never
// ignored: a strict output must always validate.
//
// Where the schema allows more than the grammar writes, the grammar writes a valid subset:
// objects never get properties beyond `properties` (additionalProperties is only honoured as the
// value schema of a property-less map), numbers with bounds are written as integers in range,
// integers have at most 15 digits.

import { GrammarBuilder, byteClass, literal, ref, type Element, type Grammar } from './grammar.js';
import { MAX_INT_DIGITS, hasBounds, integerBounds, integerRange, type NumericBounds } from './numbers.js';

/** A schema the compiler cannot honour; `feature` names what (a keyword, or a keyword's form). */
export class SchemaError extends Error {
  constructor(readonly feature: string, readonly at: string, problem: string) {
    super(`${problem} (at ${at})`);
    this.name = 'SchemaError';
  }
}

/** Keywords that describe without constraining: accepted and ignored. */
const ANNOTATIONS = new Set([
  'title', 'description', 'default', 'examples', '$schema', '$id', '$comment', 'deprecated', 'readOnly', 'writeOnly',
  '$defs', 'definitions',
]);
const HANDLED = new Set([
  'type', 'properties', 'required', 'additionalProperties', 'items', 'minItems', 'maxItems', 'enum', 'const', 'anyOf', '$ref',
  'minLength', 'maxLength', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'nullable',
]);
const TYPES = ['object', 'array', 'string', 'integer', 'number', 'boolean', 'null'] as const;
type TypeName = (typeof TYPES)[number];

/** Arrays are unrolled up to maxItems in the grammar; past this the grammar would be too large. */
export const MAX_ITEMS_BOUND = 4096;
/** Counts beyond this are as good as unbounded (and would overflow the string counter). */
const MAX_LENGTH_BOUND = 1 << 24;

type SchemaObject = Record<string, unknown>;

function isObject(v: unknown): v is SchemaObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const QUOTE = literal('"');

/**
 * How the JSON is spaced between tokens: compact by default; templates' `tojson` (Python's
 * json.dumps) writes ', ' and ': ', and a tool call written that way re-renders byte for byte.
 */
export interface JsonStyle {
  comma: string;
  colon: string;
}

export const COMPACT: JsonStyle = { comma: ',', colon: ':' };
export const TOJSON: JsonStyle = { comma: ', ', colon: ': ' };

export function compileSchema(schema: unknown): Grammar {
  const c = new SchemaCompiler(schema);
  return c.builder.build(c.node(schema, '#'));
}

/** json_object: any JSON object. */
export function anyObjectGrammar(): Grammar {
  const c = new SchemaCompiler({});
  return c.builder.build(c.anyObject());
}

/** Compiles schemas into rules of one builder (several schemas may share it: tool-calls.ts). */
export class SchemaCompiler {
  private readonly refs = new Map<string, number>();
  private readonly shared = new Map<string, number>();

  constructor(
    private readonly root: unknown,
    readonly builder = new GrammarBuilder(),
    private readonly style: JsonStyle = COMPACT,
  ) {}

  node(schema: unknown, at: string): number {
    if (schema === true) return this.anyValue();
    if (schema === false) throw new SchemaError('false', at, 'a false schema matches nothing');
    if (!isObject(schema)) throw new SchemaError('schema', at, 'a schema must be an object or a boolean');
    for (const key of Object.keys(schema)) {
      if (!HANDLED.has(key) && !ANNOTATIONS.has(key)) throw new SchemaError(key, at, `JSON Schema keyword '${key}' is not supported`);
    }
    const constraining = Object.keys(schema).filter((k) => HANDLED.has(k));
    if (schema.$ref !== undefined) {
      if (constraining.length > 1) throw new SchemaError('$ref', at, '$ref beside other constraining keywords is not supported');
      return this.reference(schema.$ref, at);
    }
    if (schema.anyOf !== undefined) {
      if (constraining.some((k) => k !== 'anyOf')) throw new SchemaError('anyOf', at, 'anyOf beside other constraining keywords is not supported');
      if (!Array.isArray(schema.anyOf) || schema.anyOf.length === 0) throw new SchemaError('anyOf', at, 'anyOf must be a non-empty array');
      return this.builder.rule(schema.anyOf.map((s, i) => [ref(this.node(s, `${at}/anyOf/${i}`))]));
    }
    const types = this.types(schema, at);
    if (schema.const !== undefined || schema.enum !== undefined) return this.literals(schema, types, at);
    if (types === null) return this.anyValue();
    const rules = types.map((t) => this.typed(t, schema, at));
    return rules.length === 1 ? rules[0]! : this.builder.rule(rules.map((r) => [ref(r)]));
  }

  /** The types the schema allows (explicit, or implied by its keywords); null: any. */
  private types(s: SchemaObject, at: string): TypeName[] | null {
    let types: TypeName[] | null = null;
    if (s.type !== undefined) {
      const list = Array.isArray(s.type) ? s.type : [s.type];
      if (list.length === 0) throw new SchemaError('type', at, 'type must not be an empty list');
      for (const t of list) {
        if (!(TYPES as readonly unknown[]).includes(t)) throw new SchemaError('type', at, `type ${JSON.stringify(t)} is not a JSON Schema type`);
      }
      types = [...new Set(list as TypeName[])];
    } else if (s.properties !== undefined || s.required !== undefined || s.additionalProperties !== undefined) types = ['object'];
    else if (s.items !== undefined || s.minItems !== undefined || s.maxItems !== undefined) types = ['array'];
    else if (s.minLength !== undefined || s.maxLength !== undefined) types = ['string'];
    else if (hasBounds(s as NumericBounds)) types = ['number'];
    if (s.nullable === true && types !== null && !types.includes('null')) types.push('null');
    // An integer is a number: listing both means number.
    if (types?.includes('number')) types = types.filter((t) => t !== 'integer');
    return types;
  }

  private literals(s: SchemaObject, types: TypeName[] | null, at: string): number {
    const values = s.const !== undefined ? [s.const] : s.enum;
    if (!Array.isArray(values) || values.length === 0) throw new SchemaError('enum', at, 'enum must be a non-empty array');
    const allowed = values.filter((v) => types === null || types.some((t) => matchesType(v, t)));
    if (allowed.length === 0) throw new SchemaError(s.const !== undefined ? 'const' : 'enum', at, 'no enum/const value has the schema\'s type');
    return this.literalSet([...new Set(allowed.map((v) => JSON.stringify(v)))]);
  }

  /**
   * One of several texts, as a trie of rules: the alternatives share their prefixes, so the
   * automaton follows one stack through a 500-value enum instead of 500 until they diverge.
   */
  private literalSet(texts: readonly string[]): number {
    const enc = new TextEncoder();
    const build = (words: readonly Uint8Array[], depth: number): number => {
      const alts: Element[][] = [];
      const byByte = new Map<number, Uint8Array[]>();
      for (const w of words) {
        if (w.length === depth) alts.push([]);
        else {
          const list = byByte.get(w[depth]!) ?? [];
          list.push(w);
          byByte.set(w[depth]!, list);
        }
      }
      for (const [b, list] of byByte) alts.push([{ bytes: byteClass([[b, b]]) }, ref(build(list, depth + 1))]);
      return this.builder.rule(alts);
    };
    return build(texts.map((t) => enc.encode(t)), 0);
  }

  private typed(t: TypeName, s: SchemaObject, at: string): number {
    switch (t) {
      case 'object':
        return this.object(s, at);
      case 'array':
        return this.array(s, at);
      case 'string': {
        const min = count(s, 'minLength', at) ?? 0;
        const max = count(s, 'maxLength', at) ?? Infinity;
        if (min > max) throw new SchemaError('minLength', at, `minLength ${min} is more than maxLength ${max}`);
        return this.builder.rule([[...QUOTE, { string: { min, max: max > MAX_LENGTH_BOUND ? Infinity : max } }]]);
      }
      case 'integer':
      case 'number': {
        const b = bounds(s, at);
        if (!hasBounds(b)) return t === 'integer' ? this.anyInteger() : this.anyNumber();
        const range = integerBounds(b);
        if (range === null) throw new SchemaError('minimum', at, `no integer lies within the bounds ${JSON.stringify(b)}`);
        return this.builder.rule(integerRange(range.lo, range.hi));
      }
      case 'boolean':
        return this.builder.rule([literal('true'), literal('false')]);
      case 'null':
        return this.builder.rule([literal('null')]);
    }
  }

  private object(s: SchemaObject, at: string): number {
    const props = s.properties ?? {};
    if (!isObject(props)) throw new SchemaError('properties', at, 'properties must be an object');
    const required = s.required ?? [];
    if (!Array.isArray(required) || !required.every((r) => typeof r === 'string')) {
      throw new SchemaError('required', at, 'required must be an array of property names');
    }
    for (const r of required) {
      if (!Object.hasOwn(props, r)) throw new SchemaError('required', at, `required property '${r}' is not in properties`);
    }
    const names = Object.keys(props);
    const ap = s.additionalProperties;
    if (ap !== undefined && typeof ap !== 'boolean' && !isObject(ap)) throw new SchemaError('additionalProperties', at, 'additionalProperties must be a boolean or a schema');
    if (names.length === 0) {
      if (ap === false) return this.builder.rule([literal('{}')]);
      const value = ap === undefined || ap === true ? this.anyValue() : this.node(ap, `${at}/additionalProperties`);
      return this.map(value);
    }
    // One rule per member, then the members in order, each optional one skippable; a comma goes
    // before every member but the first present one, hence two chains: first[i] (nothing written
    // yet) and rest[i] (something was).
    const members = names.map((name) =>
      this.builder.rule([[...literal(`${JSON.stringify(name)}${this.style.colon}`), ref(this.node(props[name], `${at}/properties/${name}`))]]));
    const need = new Set(required as string[]);
    let first = this.builder.rule([[]]);
    let rest = first;
    for (let i = names.length - 1; i >= 0; i--) {
      const m = ref(members[i]!);
      const withM = this.builder.rule([[m, ref(rest)]]);
      const commaM = this.builder.rule([[...literal(this.style.comma), m, ref(rest)]]);
      if (need.has(names[i]!)) {
        first = withM;
        rest = commaM;
      } else {
        first = this.builder.rule([[ref(withM)], [ref(first)]]);
        rest = this.builder.rule([[ref(commaM)], [ref(rest)]]);
      }
    }
    return this.builder.rule([[...literal('{'), ref(first), ...literal('}')]]);
  }

  private array(s: SchemaObject, at: string): number {
    if (Array.isArray(s.items)) throw new SchemaError('items', at, 'items as an array (tuple validation) is not supported');
    const item = s.items === undefined ? this.anyValue() : this.node(s.items, `${at}/items`);
    const min = count(s, 'minItems', at) ?? 0;
    const max = count(s, 'maxItems', at) ?? Infinity;
    if (min > max) throw new SchemaError('minItems', at, `minItems ${min} is more than maxItems ${max}`);
    if (max !== Infinity && max > MAX_ITEMS_BOUND) throw new SchemaError('maxItems', at, `maxItems above ${MAX_ITEMS_BOUND} is not supported`);
    if (min > MAX_ITEMS_BOUND) throw new SchemaError('minItems', at, `minItems above ${MAX_ITEMS_BOUND} is not supported`);
    const i = ref(item);
    const comma = literal(this.style.comma);
    // tail: what may follow the min-th item. Unbounded: ("," item)*; bounded: up to max-min more.
    let tail: number;
    if (max === Infinity) {
      tail = this.builder.reserve();
      this.builder.define(tail, [[...comma, i, ref(tail)], []]);
    } else {
      tail = this.builder.rule([[]]);
      for (let k = 0; k < max - Math.max(min, 1); k++) tail = this.builder.rule([[...comma, i, ref(tail)], []]);
    }
    if (max === 0) return this.builder.rule([literal('[]')]);
    const open = literal('['), close = literal(']');
    if (min === 0) return this.builder.rule([[...open, ...close], [...open, i, ref(tail), ...close]]);
    const body: Element[] = [i];
    for (let k = 1; k < min; k++) body.push(...comma, i);
    return this.builder.rule([[...open, ...body, ref(tail), ...close]]);
  }

  private reference(target: unknown, at: string): number {
    if (typeof target !== 'string') throw new SchemaError('$ref', at, '$ref must be a string');
    let id = this.refs.get(target);
    if (id !== undefined) return id;
    if (target !== '#' && !target.startsWith('#/')) throw new SchemaError('$ref', at, `$ref '${target}': only references within the schema (#/...) are supported`);
    let node: unknown = this.root;
    for (const raw of target.slice(2).split('/').filter((p) => p !== '')) {
      const key = decodeURIComponent(raw).replaceAll('~1', '/').replaceAll('~0', '~');
      node = isObject(node) ? node[key] : Array.isArray(node) ? node[Number(key)] : undefined;
      if (node === undefined) throw new SchemaError('$ref', at, `$ref '${target}' points to nothing`);
    }
    // Reserved before compiling the target, so a recursive schema refers to itself.
    id = this.builder.reserve();
    this.refs.set(target, id);
    this.builder.define(id, [[ref(this.node(node, target))]]);
    return id;
  }

  private once(name: string, make: () => number): number {
    let id = this.shared.get(name);
    if (id === undefined) {
      id = make();
      this.shared.set(name, id);
    }
    return id;
  }

  /** Up to n more digits, as right recursion (constant stack depth). */
  private digitsUpTo(n: number): number {
    return this.once(`digits${n}`, () => {
      let r = this.builder.rule([[]]);
      const d = { bytes: byteClass([[0x30, 0x39]]) };
      for (let k = 0; k < n; k++) r = this.builder.rule([[d, ref(r)], []]);
      return r;
    });
  }

  anyInteger(): number {
    return this.once('integer', () => {
      const digits = ref(this.digitsUpTo(MAX_INT_DIGITS - 1));
      const magnitude = this.builder.rule([literal('0'), [{ bytes: byteClass([[0x31, 0x39]]) }, digits]]);
      return this.builder.rule([[ref(magnitude)], [...literal('-'), ref(magnitude)]]);
    });
  }

  anyNumber(): number {
    return this.once('number', () => {
      const d = { bytes: byteClass([[0x30, 0x39]]) };
      const fraction = this.builder.rule([[...literal('.'), d, ref(this.digitsUpTo(MAX_INT_DIGITS - 1))], []]);
      // Two exponent digits at most: 1e999 would parse as Infinity.
      const exponent = this.builder.rule([[{ bytes: byteClass([[0x45, 0x45], [0x65, 0x65]]) }, { bytes: byteClass([[0x2b, 0x2b], [0x2d, 0x2d]]) }, d, ref(this.digitsUpTo(1))],
        [{ bytes: byteClass([[0x45, 0x45], [0x65, 0x65]]) }, d, ref(this.digitsUpTo(1))], []]);
      return this.builder.rule([[ref(this.anyInteger()), ref(fraction), ref(exponent)]]);
    });
  }

  anyString(): number {
    return this.once('string', () => this.builder.rule([[...QUOTE, { string: { min: 0, max: Infinity } }]]));
  }

  anyValue(): number {
    return this.once('value', () => {
      const id = this.builder.reserve();
      this.shared.set('value', id);
      const alts = [this.anyObject(), this.anyArray(), this.anyString(), this.anyNumber()].map((r) => [ref(r)]);
      return this.builder.define(id, [...alts, literal('true'), literal('false'), literal('null')]);
    });
  }

  anyObject(): number {
    return this.once('object', () => {
      const id = this.builder.reserve();
      this.shared.set('object', id);
      const map = this.map(this.anyValue());
      return this.builder.define(id, [[ref(map)]]);
    });
  }

  private anyArray(): number {
    return this.once('array', () => {
      const value = ref(this.anyValue());
      const tail = this.builder.reserve();
      this.builder.define(tail, [[...literal(this.style.comma), value, ref(tail)], []]);
      return this.builder.rule([literal('[]'), [...literal('['), value, ref(tail), ...literal(']')]]);
    });
  }

  /** An object of any keys whose values follow rule `value`. */
  private map(value: number): number {
    const member = this.builder.rule([[...QUOTE, { string: { min: 0, max: Infinity } }, ...literal(this.style.colon), ref(value)]]);
    const tail = this.builder.reserve();
    this.builder.define(tail, [[...literal(this.style.comma), ref(member), ref(tail)], []]);
    return this.builder.rule([literal('{}'), [...literal('{'), ref(member), ref(tail), ...literal('}')]]);
  }
}

function matchesType(v: unknown, t: TypeName): boolean {
  switch (t) {
    case 'null':
      return v === null;
    case 'boolean':
      return typeof v === 'boolean';
    case 'string':
      return typeof v === 'string';
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'number':
      return typeof v === 'number';
    case 'array':
      return Array.isArray(v);
    case 'object':
      return isObject(v);
  }
}

function count(s: SchemaObject, key: string, at: string): number | undefined {
  const v = s[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new SchemaError(key, at, `${key} must be a non-negative integer`);
  return v;
}

function bounds(s: SchemaObject, at: string): NumericBounds {
  const out: NumericBounds = {};
  for (const key of ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'] as const) {
    const v = s[key];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new SchemaError(key, at, `${key} must be a number (the draft-4 boolean form is not supported)`);
    out[key] = v;
  }
  return out;
}
