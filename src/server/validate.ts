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

/** Parses `value` with `schema`, or throws a 400 naming the first offending field. */
export function parse<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const param = paramPath(issue.path);
  const where = param === null ? (value === undefined || value === null ? 'the request body is missing; ' : '') : `${param}: `;
  throw badRequest(`Invalid request: ${where}${issue.message}`, param, issue.code === 'invalid_type' ? 'invalid_type' : 'invalid_value');
}

/** A field OpenAI defines but Pensieve does not support: refused rather than silently ignored. */
export function unsupported(param: string, what: string): never {
  throw badRequest(`${param}: ${what} is not supported by this server`, param, 'unsupported_parameter');
}

/** An integer query parameter (`?limit=20`): strings from the URL, checked as numbers. */
export const queryInt = z.coerce.number().int();

/** OpenAI metadata: at most 16 string pairs, keys ≤ 64 characters, values ≤ 512. */
export const metadataField = z
  .record(z.string().max(64), z.string().max(512))
  .refine((m) => Object.keys(m).length <= 16, { message: 'metadata holds at most 16 pairs' });
