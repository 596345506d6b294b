// What a request asks its output to be (OpenAI's response_format / Responses text.format, after
// the HTTP layer has read it), and the grammar that says so.

import type { Grammar } from './grammar.js';
import { anyObjectGrammar, compileSchema } from './schema.js';

/** Plain structured-clone data: it crosses to the engine thread. */
export type ResponseFormat =
  | { type: 'json_object' }
  | { type: 'json_schema'; schema: unknown };

/** The grammar of a format; throws SchemaError naming what it cannot honour. */
export function compileFormat(format: ResponseFormat): Grammar {
  return format.type === 'json_object' ? anyObjectGrammar() : compileSchema(format.schema);
}

/** Equal for formats that compile to the same grammar (the compiled-grammar cache's key). */
export function formatKey(format: ResponseFormat): string {
  return format.type === 'json_object' ? 'json_object' : `json_schema:${JSON.stringify(format.schema)}`;
}
