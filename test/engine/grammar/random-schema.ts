// Random JSON Schemas for the structured-output fuzz tests: nested objects with required and
// optional properties, arrays with bounds, strings with lengths, bounded and unbounded numbers,
// enums, consts, anyOf, nullable type lists and $defs references. Every schema is finite (all
// strings and arrays bounded), and `maxBytes` bounds the length of any value it admits, so a
// test can give generation room to finish.

import type { Rng } from '../../../src/engine/sampler.js';

export type Schema = Record<string, unknown>;

const WORDS = ['id', 'name', 'kind', 'value', 'items', 'tags', 'note', 'x', 'é', 'a b', 'quote"d', 'list', 'flag', 'n'];
const ENUM_VALUES: unknown[] = ['red', 'green', 'blue', 'a "q"', 'ünï', 1, 2.5, -3, true, false, null, [1, 2], { k: 'v' }];

export class SchemaGen {
  private defs: Record<string, Schema> = {};

  constructor(private readonly rng: Rng) {}

  private int(lo: number, hi: number): number {
    return lo + Math.floor(this.rng.next() * (hi - lo + 1));
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rng.next() * xs.length)]!;
  }

  /** A root schema: an object (as OpenAI's strict mode wants), sometimes with $defs. */
  root(): Schema {
    this.defs = {};
    const body = this.object(0);
    if (Object.keys(this.defs).length > 0) body.$defs = this.defs;
    return body;
  }

  node(depth: number): Schema {
    const kinds = depth < 3
      ? ['object', 'array', 'string', 'integer', 'number', 'boolean', 'null', 'enum', 'const', 'anyOf', 'nullable', 'ref', 'bounded']
      : ['string', 'integer', 'boolean', 'enum', 'const', 'nullable', 'bounded'];
    switch (this.pick(kinds)) {
      case 'object':
        return this.object(depth + 1);
      case 'array': {
        const max = this.int(0, 3);
        return { type: 'array', items: this.node(depth + 1), minItems: this.int(0, max), maxItems: max };
      }
      case 'string':
        return this.string();
      case 'integer':
        return { type: 'integer' };
      case 'bounded': {
        const lo = this.int(-200, 200);
        return this.rng.next() < 0.5
          ? { type: 'integer', minimum: lo, maximum: lo + this.int(0, 500) }
          : { type: 'number', exclusiveMinimum: lo - 0.5, maximum: lo + this.int(1, 50) };
      }
      case 'number':
        return { type: 'number', description: 'any number' };
      case 'boolean':
        return { type: 'boolean' };
      case 'null':
        return { type: 'null' };
      case 'enum': {
        const n = this.int(1, 4);
        return { enum: [...new Set(Array.from({ length: n }, () => this.pick(ENUM_VALUES)))] };
      }
      case 'const':
        return { const: this.pick(ENUM_VALUES) };
      case 'anyOf':
        return { anyOf: Array.from({ length: this.int(1, 3) }, () => this.node(depth + 1)) };
      case 'nullable':
        return { ...this.string(), type: ['string', 'null'] };
      default: {
        const name = `d${Object.keys(this.defs).length}`;
        this.defs[name] = {}; // the name is taken before the definition's own references are made
        this.defs[name] = this.node(depth + 1);
        return { $ref: `#/$defs/${name}` };
      }
    }
  }

  private string(): Schema {
    const max = this.int(0, 8);
    return { type: 'string', minLength: this.int(0, max), maxLength: max };
  }

  private object(depth: number): Schema {
    const n = this.int(0, 4);
    const names = [...new Set(Array.from({ length: n }, () => this.pick(WORDS)))];
    const properties: Record<string, Schema> = {};
    for (const k of names) properties[k] = this.node(depth);
    const required = names.filter(() => this.rng.next() < 0.6);
    return { type: 'object', properties, required, additionalProperties: false };
  }
}

const utf8 = (s: string) => new TextEncoder().encode(s).length;

/** The most bytes a compact JSON value valid against `s` can take (as the grammar writes it). */
export function maxBytes(s: Schema, root: Schema = s): number {
  if (typeof s.$ref === 'string') return maxBytes((root.$defs as Record<string, Schema>)[s.$ref.split('/').pop()!]!, root);
  if (Array.isArray(s.anyOf)) return Math.max(...s.anyOf.map((b) => maxBytes(b as Schema, root)));
  if (s.const !== undefined) return utf8(JSON.stringify(s.const));
  if (Array.isArray(s.enum)) return Math.max(...s.enum.map((v) => utf8(JSON.stringify(v))));
  const types = (Array.isArray(s.type) ? s.type : [s.type]) as string[];
  return Math.max(...types.map((t) => {
    switch (t) {
      case 'string':
        return 2 + 6 * (s.maxLength as number); // \uXXXX is the longest spelling of a character
      case 'integer':
      case 'number':
        if (s.minimum !== undefined || s.maximum !== undefined || s.exclusiveMinimum !== undefined) return 8;
        return t === 'integer' ? 16 : 36;
      case 'boolean':
        return 5;
      case 'null':
        return 4;
      case 'array':
        return 2 + (s.maxItems as number) * (maxBytes(s.items as Schema, root) + 1);
      case 'object': {
        const props = Object.entries(s.properties as Record<string, Schema>);
        return 2 + props.reduce((sum, [k, v]) => sum + utf8(JSON.stringify(k)) + 2 + maxBytes(v, root), 0);
      }
      default:
        throw new Error(`no bound for type ${t}`);
    }
  }));
}
