// A chat reply split into what Chat Completions reports apart: reasoning_content, content and
// tool_calls — the whole message, or, streaming, each parser event as a chunk's delta (a call's
// id, type and name first, then its arguments in pieces, as OpenAI streams them).

import type { ModelInfo } from '../engine/protocol.js';
import { OutputParser, type OutputEvent, type ParsedOutput } from '../model/output-parser.js';
import { promptOpensReasoning, toolSyntax } from '../model/tool-syntax.js';
import { newCallId, type ToolPlan } from './tools.js';

/** What a reply is parsed for: reasoning (the model thinks) and calls (the request has tools). */
export interface ReplySplit {
  reasons: boolean;
  plan: ToolPlan | null;
}

export function replySplit(model: ModelInfo, plan: ToolPlan | null): ReplySplit | null {
  const parsesCalls = plan !== null && plan.parse !== null;
  if (!model.reasons && !parsesCalls) return null;
  return { reasons: model.reasons, plan: parsesCalls ? plan : null };
}

/** A parser for one reply to a prompt (whose text tells whether the reply starts inside a think block). */
export function replyParser(split: ReplySplit, promptText: string): OutputParser {
  return new OutputParser({
    reasoning: !split.reasons ? 'none' : promptOpensReasoning(promptText) ? 'open' : 'maybe',
    tools: split.plan?.parse ?? null,
  });
}

export interface ToolCallOut {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** Chat's assistant message for a parsed reply; calls get ids from `ids` (one per call, in order). */
export function chatMessage(parsed: ParsedOutput, ids: readonly string[]) {
  const calls: ToolCallOut[] = parsed.calls.map((c, i) => ({ id: ids[i]!, type: 'function', function: { name: c.name, arguments: c.arguments } }));
  return {
    role: 'assistant',
    content: calls.length > 0 && parsed.content === '' ? null : parsed.content,
    refusal: null,
    ...(parsed.reasoning === null ? {} : { reasoning_content: parsed.reasoning }),
    ...(calls.length > 0 ? { tool_calls: calls } : {}),
  };
}

/** Ids for a reply's calls, made as each call appears. */
export class CallIds {
  readonly ids: string[] = [];
  constructor(private readonly split: ReplySplit) {}

  next(): string {
    const syntax = this.split.plan?.parse ?? null;
    const id = newCallId(syntax === null ? null : toolSyntax(syntax.name));
    this.ids.push(id);
    return id;
  }

  /** Enough ids for `n` calls (a whole reply parsed at once). */
  upTo(n: number): string[] {
    while (this.ids.length < n) this.next();
    return this.ids;
  }
}

/** A chunk choice's delta for one parser event. */
export function chatDelta(ev: OutputEvent, ids: CallIds): Record<string, unknown> {
  switch (ev.type) {
    case 'reasoning':
      return { reasoning_content: ev.text };
    case 'content':
      return { content: ev.text };
    case 'call':
      return { tool_calls: [{ index: ev.index, id: ids.next(), type: 'function', function: { name: ev.name, arguments: '' } }] };
    case 'arguments':
      return { tool_calls: [{ index: ev.index, function: { arguments: ev.text } }] };
  }
}
