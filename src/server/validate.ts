// Request bodies and queries are checked with zod schemas that sit next to their handlers; this
// turns the first problem zod finds into a 400 whose `param` is the offending field's path, the
// way OpenAI reports it (`messages[1].content`, `temperature`).

import { z } from 'zod';
import { badRequest } from './errors.js';

export function paramPath(path: readonly PropertyKey[]): string | null {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out === '' ? null : out;
}

type Issue = z.core.$ZodIssue;

/**
 * zod reports a value that fits no branch of a union as one vague issue. Say instead what the
 * branch that got furthest found (a wrong field deep inside an item), or, when every branch
 * failed on the value's type itself, which types would have done.
 */
function mostSpecific(issue: Issue): { issue: Issue; path: PropertyKey[] } {
  if (issue.code !== 'invalid_union' || issue.errors.length === 0) return { issue, path: [...issue.path] };
  const firsts = issue.errors.map((branch) => branch[0]).filter((i): i is Issue => i !== undefined);
  const deepest = firsts.reduce((a, b) => (b.path.length > a.path.length ? b : a), firsts[0]!);
  if (deepest.path.length === 0 && firsts.every((i) => i.code === 'invalid_type')) {
    const expected = [...new Set(firsts.map((i) => (i.code === 'invalid_type' ? i.expected : '')))].join(' or ');
    return { issue: { ...deepest, message: `expected ${expected}` }, path: [...issue.path] };
  }
  const inner = mostSpecific(deepest);
  return { issue: inner.issue, path: [...issue.path, ...inner.path] };
}

/**
 * Parses `value` with `schema`, or throws a 400 naming the first offending field. Request bodies
 * use strict objects: a field this server does not know is refused (OpenAI's "Unrecognized
 * request argument"), never dropped, so a client never believes a setting took effect.
 */
export function parse<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const { issue, path } = mostSpecific(result.error.issues[0]!);
  if (issue.code === 'unrecognized_keys') {
    const param = paramPath([...path, issue.keys[0]!])!;
    throw badRequest(`Unrecognized request argument supplied: ${param}`, param, 'unsupported_parameter');
  }
  const param = paramPath(path);
  const where = param === null ? '' : `${param}: `;
  throw badRequest(`Invalid request: ${where}${issue.message}`, param, issue.code === 'invalid_type' ? 'invalid_type' : 'invalid_value');
}

/** A field OpenAI defines but Pensieve does not support: refused rather than silently ignored. */
export function unsupported(param: string, what: string): never {
  throw badRequest(`${param}: ${what} is not supported by this server`, param, 'unsupported_parameter');
}

/**
 * Fields OpenAI defines that this server does not honour, with what each asks for. A request
 * that sets one (to anything but null or the value that asks for nothing, see `harmless`) is
 * refused naming it, before the strict schema would call it merely unrecognized.
 */
export const UNSUPPORTED_FIELDS: Readonly<Record<string, string>> = {
  tool_choice: 'tool calling',
  parallel_tool_calls: 'tool calling',
  functions: 'function calling',
  function_call: 'function calling',
  max_tool_calls: 'tool calling',
  reasoning_effort: 'reasoning effort',
  reasoning: 'reasoning options',
  include: 'including extra output data',
  truncation: 'truncating the conversation to fit the context',
  audio: 'audio output',
  modalities: 'output modalities other than text',
  prediction: 'predicted outputs',
  web_search_options: 'web search',
  service_tier: 'service tiers',
  verbosity: 'verbosity',
  prompt: 'prompt templates',
  prompt_cache_key: 'prompt cache keys (the cache is automatic)',
  store: 'storing chat completions for later retrieval',
};

/** Values of an unsupported field that ask for nothing beyond what the server does anyway. */
function harmless(field: string, value: unknown): boolean {
  if (value === null || value === undefined) return true;
  switch (field) {
    case 'tool_choice':
    case 'function_call':
      return value === 'none'; // no tools: none is what happens
    case 'include':
      return Array.isArray(value) && value.length === 0;
    case 'truncation':
      return value === 'disabled'; // OpenAI's default: an over-long input is an error, as here
    case 'store':
      return value === false;
    case 'modalities':
      return Array.isArray(value) && value.every((m) => m === 'text');
    default:
      return false;
  }
}

/** Schema fields for `fields`: refuseUnsupported has already refused every value that matters. */
export function refusedFields(fields: readonly string[]): Record<string, z.ZodOptional<z.ZodUnknown>> {
  return Object.fromEntries(fields.map((f) => [f, z.unknown().optional()]));
}

/** Who sent the request, for the log (OpenAI's `user`, or its newer name `safety_identifier`). */
export const userFields = {
  user: z.string().max(256).nullish(),
  safety_identifier: z.string().max(256).nullish(),
};

/** Refuses any of `fields` (names in UNSUPPORTED_FIELDS) that the body sets to something it would not honour. */
export function refuseUnsupported(body: unknown, fields: readonly string[]): void {
  if (typeof body !== 'object' || body === null) return;
  const record = body as Record<string, unknown>;
  for (const field of fields) {
    if (Object.hasOwn(record, field) && !harmless(field, record[field])) unsupported(field, UNSUPPORTED_FIELDS[field] ?? field);
  }
}

/** An integer query parameter (`?limit=20`): strings from the URL, checked as numbers. */
export const queryInt = z.coerce.number().int();

/** OpenAI metadata: at most 16 string pairs, keys ≤ 64 characters, values ≤ 512. */
export const metadataField = z
  .record(z.string().max(64), z.string().max(512))
  .refine((m) => Object.keys(m).length <= 16, { message: 'metadata holds at most 16 pairs' });
