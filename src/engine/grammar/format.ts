// What a request asks its output to be (OpenAI's response_format / Responses text.format, or a
// forced tool call, after the HTTP layer has read it), and the grammar that says so.

import type { Grammar } from './grammar.js';
import { anyObjectGrammar, compileSchema } from './schema.js';
import { compileToolCalls, type ToolCallFormat } from './tool-calls.js';

/** Plain structured-clone data: it crosses to the engine thread. */
export type ResponseFormat =
  | { type: 'json_object' }
  | { type: 'json_schema'; schema: unknown }
  | { type: 'tool_calls'; calls: ToolCallFormat };

/** The grammar of a format; throws SchemaError naming what it cannot honour. */
export function compileFormat(format: ResponseFormat): Grammar {
  switch (format.type) {
    case 'json_object':
      return anyObjectGrammar();
    case 'json_schema':
      return compileSchema(format.schema);
    case 'tool_calls':
      return compileToolCalls(format.calls);
  }
}

/** Equal for formats that compile to the same grammar (the compiled-grammar cache's key). */
export function formatKey(format: ResponseFormat): string {
  switch (format.type) {
    case 'json_object':
      return 'json_object';
    case 'json_schema':
      return `json_schema:${JSON.stringify(format.schema)}`;
    case 'tool_calls':
      return `tool_calls:${JSON.stringify({ ...format.calls, maxCalls: String(format.calls.maxCalls) })}`;
  }
}
