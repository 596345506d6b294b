// Structured outputs at the HTTP edge: Chat Completions' `response_format` and Responses'
// `text.format` read into the engine's ResponseFormat, the schema compiled once here so that a
// feature the grammar cannot honour is a 400 naming it (param `response_format` or
// `text.format`) before anything is queued. The engine compiles it again from its cache.

import { z } from 'zod';
import { compileFormat, type ResponseFormat } from '../engine/grammar/format.js';
import { SchemaError } from '../engine/grammar/schema.js';
import { badRequest } from './errors.js';
import { parse } from './validate.js';

/** OpenAI's rule for a format's name. */
const name = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, underscores or dashes');
const schema = z.record(z.string(), z.unknown());

const ChatFormat = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('text') }),
  z.strictObject({ type: z.literal('json_object') }),
  z.strictObject({
    type: z.literal('json_schema'),
    json_schema: z.strictObject({ name, description: z.string().nullish(), schema: schema.nullish(), strict: z.boolean().nullish() }),
  }),
]);

const TextFormat = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('text') }),
  z.strictObject({ type: z.literal('json_object') }),
  z.strictObject({ type: z.literal('json_schema'), name, description: z.string().nullish(), schema, strict: z.boolean().nullish() }),
]);

const KNOWN_TYPES = ['text', 'json_object', 'json_schema'];

/** The body field: checked in full by chatResponseFormat / textFormat. */
export const responseFormatField = z.unknown().nullish();

/** Chat Completions' response_format; undefined for free text. */
export function chatResponseFormat(value: unknown): ResponseFormat | undefined {
  if (value === undefined || value === null) return undefined;
  refuseUnknownType(value, 'response_format');
  const f = parse(z.strictObject({ response_format: ChatFormat }), { response_format: value }).response_format;
  if (f.type === 'text') return undefined;
  // A json_schema without a schema asks for JSON, no more: any JSON object.
  const format: ResponseFormat = f.type === 'json_schema' && f.json_schema.schema != null
    ? { type: 'json_schema', schema: f.json_schema.schema }
    : { type: 'json_object' };
  return checked(format, 'response_format');
}

/** Responses' text.format; undefined for free text. */
export function textFormat(value: unknown): ResponseFormat | undefined {
  if (value === undefined || value === null) return undefined;
  refuseUnknownType(value, 'text.format');
  const f = parse(z.strictObject({ text: z.strictObject({ format: TextFormat }) }), { text: { format: value } }).text.format;
  if (f.type === 'text') return undefined;
  return checked(f.type === 'json_schema' ? { type: 'json_schema', schema: f.schema } : { type: 'json_object' }, 'text.format');
}

function refuseUnknownType(value: unknown, param: string): void {
  const type = typeof value === 'object' && value !== null ? (value as { type?: unknown }).type : undefined;
  if (typeof type === 'string' && !KNOWN_TYPES.includes(type)) {
    throw badRequest(`${param}: format type '${type}' is not supported by this server (text, json_object and json_schema are)`, `${param}.type`, 'unsupported_value');
  }
}

/** The format, once its schema has compiled; a 400 naming the feature it cannot honour otherwise. */
function checked(format: ResponseFormat, param: string): ResponseFormat {
  try {
    compileFormat(format);
  } catch (err) {
    if (err instanceof SchemaError) throw badRequest(`${param}: ${err.message}`, param, 'unsupported_value');
    throw err;
  }
  return format;
}
