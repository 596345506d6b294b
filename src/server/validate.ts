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

/** Parses `value` with `schema`, or throws a 400 naming the first offending field. */
export function parse<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const { issue, path } = mostSpecific(result.error.issues[0]!);
  const param = paramPath(path);
  const where = param === null ? '' : `${param}: `;
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
