// The grammar of a forced tool call (tool_choice "required" or a named function): the model's
// own call syntax around each function's parameters schema, so what it writes always parses as
// a call of a declared function whose arguments validate. The syntax (Hermes' <tool_call>
// wrapper, Llama 3.1's bare JSON, Mistral's [TOOL_CALLS] list) is given as literal text by the
// caller; this module knows none of them. Arguments are spaced as templates' tojson spaces them,
// so a call re-rendered in the next turn's prompt is the same text and its KV stays reusable.

import { GrammarBuilder, literal, ref, type Element, type Grammar } from './grammar.js';
import { SchemaCompiler, SchemaError, TOJSON } from './schema.js';

/** Plain structured-clone data: it crosses to the engine thread inside a ResponseFormat. */
export interface ToolCallFormat {
  /** Text before the first call, between two calls, and after the last. */
  prefix: string;
  separator: string;
  suffix: string;
  /** Each function that may be called: the text before its arguments, their schema, the text after. */
  functions: Array<{ name: string; open: string; parameters: unknown; close: string }>;
  /** At most this many calls (1 when parallel_tool_calls is false); at least one is always written. */
  maxCalls: number;
}

export function compileToolCalls(format: ToolCallFormat): Grammar {
  if (format.functions.length === 0) throw new SchemaError('tools', '#', 'no function to call');
  const builder = new GrammarBuilder();
  const alternatives: Element[][] = format.functions.map((f) => {
    // Each function's schema is its own document: its $refs resolve within it.
    const args = new SchemaCompiler(f.parameters ?? { type: 'object' }, builder, TOJSON).node(f.parameters ?? { type: 'object' }, `#/${f.name}`);
    return [...literal(f.open), ref(args), ...literal(f.close)];
  });
  const call = ref(builder.rule(alternatives));
  let tail: number;
  if (!Number.isFinite(format.maxCalls)) {
    tail = builder.reserve();
    builder.define(tail, [[...literal(format.separator), call, ref(tail)], []]);
  } else {
    tail = builder.rule([[]]);
    for (let k = 1; k < format.maxCalls; k++) tail = builder.rule([[...literal(format.separator), call, ref(tail)], []]);
  }
  return builder.build(builder.rule([[...literal(format.prefix), call, ref(tail), ...literal(format.suffix)]]));
}
