// Checks on what crosses into and out of the database. Clients' metadata is checked against
// OpenAI's limits before it is written (StoreInputError → HTTP 400); JSON read back is checked
// against the types it claims to be, so a damaged or hand-edited row fails loudly, naming itself,
// instead of reaching a chat template as a malformed message.

import type {
  ContentPart,
  ConversationItem,
  ItemStatus,
  JsonValue,
  Metadata,
  ResponseObject,
  ResponseStatus,
  ResponseUsage,
  Role,
} from './types.js';

/** A bad argument from an API client; `param` names it the way OpenAI's error.param does. */
export class StoreInputError extends Error {
  readonly param: string;

  constructor(param: string, message: string) {
    super(message);
    this.name = 'StoreInputError';
    this.param = param;
  }
}

const MAX_METADATA_PAIRS = 16;
const MAX_METADATA_KEY = 64;
const MAX_METADATA_VALUE = 512;

export function checkMetadata(metadata: unknown): Metadata {
  if (!isObject(metadata)) throw new StoreInputError('metadata', 'metadata must be an object of string pairs');
  const entries = Object.entries(metadata);
  if (entries.length > MAX_METADATA_PAIRS) {
    throw new StoreInputError('metadata', `metadata has ${entries.length} pairs; at most ${MAX_METADATA_PAIRS} are allowed`);
  }
  for (const [key, value] of entries) {
    if (key.length > MAX_METADATA_KEY) {
      throw new StoreInputError('metadata', `metadata key '${key.slice(0, 20)}…' is longer than ${MAX_METADATA_KEY} characters`);
    }
    if (typeof value !== 'string') throw new StoreInputError('metadata', `metadata['${key}'] must be a string`);
    if (value.length > MAX_METADATA_VALUE) {
      throw new StoreInputError('metadata', `metadata['${key}'] is longer than ${MAX_METADATA_VALUE} characters`);
    }
  }
  return { ...(metadata as Metadata) };
}

/** Thrown for rows that do not hold what the schema promises; `where` names the row. */
function corrupt(where: string, problem: string): never {
  throw new Error(`pensieve store: ${where}: ${problem}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseJson(json: string, where: string): unknown {
  try {
    return JSON.parse(json);
  } catch (err) {
    return corrupt(where, `invalid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
}

function str(o: Record<string, unknown>, key: string, where: string): string {
  const v = o[key];
  return typeof v === 'string' ? v : corrupt(where, `${key} is not a string`);
}

const ROLES: ReadonlySet<string> = new Set<Role>(['user', 'assistant', 'system', 'developer']);
const STATUSES: ReadonlySet<string> = new Set<ItemStatus>(['in_progress', 'completed', 'incomplete']);

function contentPart(v: unknown, where: string): ContentPart {
  if (!isObject(v)) return corrupt(where, 'content part is not an object');
  switch (v.type) {
    case 'input_text':
      return { type: 'input_text', text: str(v, 'text', where) };
    case 'output_text': {
      const annotations = v.annotations ?? [];
      if (!Array.isArray(annotations)) return corrupt(where, 'output_text annotations is not an array');
      return { type: 'output_text', text: str(v, 'text', where), annotations: annotations as JsonValue[] };
    }
    case 'refusal':
      return { type: 'refusal', refusal: str(v, 'refusal', where) };
    default:
      return corrupt(where, `unknown content part type ${JSON.stringify(v.type)}`);
  }
}

export function toItem(v: unknown, where: string): ConversationItem {
  if (!isObject(v)) return corrupt(where, 'item is not an object');
  const id = str(v, 'id', where);
  const status = str(v, 'status', where);
  if (!STATUSES.has(status)) corrupt(where, `unknown item status '${status}'`);
  switch (v.type) {
    case 'message': {
      const role = str(v, 'role', where);
      if (!ROLES.has(role)) corrupt(where, `unknown role '${role}'`);
      if (!Array.isArray(v.content)) return corrupt(where, 'message content is not an array');
      const content = v.content.map((p) => contentPart(p, where));
      return { type: 'message', id, role: role as Role, content, status: status as ItemStatus };
    }
    case 'function_call':
      return {
        type: 'function_call',
        id,
        call_id: str(v, 'call_id', where),
        name: str(v, 'name', where),
        arguments: str(v, 'arguments', where),
        status: status as ItemStatus,
      };
    case 'function_call_output':
      return { type: 'function_call_output', id, call_id: str(v, 'call_id', where), output: str(v, 'output', where), status: status as ItemStatus };
    case 'reasoning': {
      const texts = (key: 'summary' | 'content', type: string) => {
        const list = v[key] ?? [];
        if (!Array.isArray(list)) return corrupt(where, `reasoning ${key} is not an array`);
        return list.map((p) => {
          if (!isObject(p) || p.type !== type) return corrupt(where, `reasoning ${key} part is not ${type}`);
          return { type, text: str(p, 'text', where) };
        });
      };
      return {
        type: 'reasoning', id,
        summary: texts('summary', 'summary_text') as Array<{ type: 'summary_text'; text: string }>,
        content: texts('content', 'reasoning_text') as Array<{ type: 'reasoning_text'; text: string }>,
        status: status as ItemStatus,
      };
    }
    default:
      return corrupt(where, `unknown item type ${JSON.stringify(v.type)}`);
  }
}

export function parseItem(json: string, where: string): ConversationItem {
  return toItem(parseJson(json, where), where);
}

export function parseItems(json: string, where: string): ConversationItem[] {
  const v = parseJson(json, where);
  if (!Array.isArray(v)) return corrupt(where, 'item list is not an array');
  return v.map((item, i) => toItem(item, `${where}[${i}]`));
}

export function parseMetadata(json: string, where: string): Metadata {
  const v = parseJson(json, where);
  if (!isObject(v) || !Object.values(v).every((x) => typeof x === 'string')) {
    return corrupt(where, 'metadata is not an object of strings');
  }
  return v as Metadata;
}

const RESPONSE_STATUSES: ReadonlySet<string> = new Set<ResponseStatus>([
  'completed', 'failed', 'in_progress', 'cancelled', 'queued', 'incomplete',
]);

export function parseResponseStatus(status: string, where: string): ResponseStatus {
  return RESPONSE_STATUSES.has(status) ? (status as ResponseStatus) : corrupt(where, `unknown status '${status}'`);
}

export function parseUsage(json: string | null, where: string): ResponseUsage | null {
  if (json === null) return null;
  const v = parseJson(json, where);
  if (!isObject(v) || typeof v.input_tokens !== 'number' || typeof v.output_tokens !== 'number' || typeof v.total_tokens !== 'number') {
    return corrupt(where, 'usage lacks input_tokens/output_tokens/total_tokens');
  }
  return v as unknown as ResponseUsage;
}

/** The stored response object, with its typed fields checked; the untyped rest passes through. */
export function parseResponseObject(json: string, where: string): ResponseObject {
  const v = parseJson(json, where);
  if (!isObject(v) || v.object !== 'response') return corrupt(where, 'body is not a response object');
  str(v, 'id', where);
  str(v, 'model', where);
  parseResponseStatus(str(v, 'status', where), where);
  if (typeof v.created_at !== 'number') corrupt(where, 'created_at is not a number');
  if (!Array.isArray(v.output)) return corrupt(where, 'output is not an array');
  const output = v.output.map((item, i) => toItem(item, `${where}.output[${i}]`));
  return { ...v, output } as ResponseObject;
}
