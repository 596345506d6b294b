// The Responses API's response object, field for field as OpenAI returns it, in its three
// moments: in progress (stream start), finished (completed or cut at max_output_tokens), failed.

import type { ConversationItem, Metadata, ResponseObject, ResponseStatus } from '../store/index.js';
import type { GenerationResult } from './generation.js';
import { responsesUsage } from './usage.js';

/** What the client asked for, echoed back in every version of the object. */
export interface ResponseParams {
  id: string;
  createdAt: number;
  model: string;
  instructions: string | null;
  previousResponseId: string | null;
  conversationId: string | null;
  maxOutputTokens: number | null;
  temperature: number;
  topP: number;
  metadata: Metadata;
  store: boolean;
  /** text.format as the request gave it (structured outputs); absent: plain text. */
  textFormat?: Record<string, unknown>;
  /** The function tools, tool_choice and parallel_tool_calls as the request gave them. */
  tools: unknown[];
  toolChoice: unknown;
  parallelToolCalls: boolean;
}

interface ResponseState {
  status: ResponseStatus;
  output: ConversationItem[];
  usage: ResponseObject['usage'];
  incompleteReason?: 'max_output_tokens';
  error?: { code: string; message: string };
}

function build(p: ResponseParams, s: ResponseState): ResponseObject {
  const outputText = s.output.flatMap((item) => (item.type === 'message' ? item.content.map((c) => (c.type === 'output_text' ? c.text : '')) : [])).join('');
  return {
    id: p.id,
    object: 'response',
    created_at: p.createdAt,
    status: s.status,
    background: false,
    error: s.error ?? null,
    incomplete_details: s.incompleteReason === undefined ? null : { reason: s.incompleteReason },
    instructions: p.instructions,
    max_output_tokens: p.maxOutputTokens,
    model: p.model,
    output: s.output,
    output_text: outputText,
    parallel_tool_calls: p.parallelToolCalls,
    previous_response_id: p.previousResponseId,
    conversation: p.conversationId === null ? null : { id: p.conversationId },
    reasoning: { effort: null, summary: null },
    store: p.store,
    temperature: p.temperature,
    text: { format: p.textFormat ?? { type: 'text' } },
    tool_choice: p.toolChoice,
    tools: p.tools,
    top_p: p.topP,
    truncation: 'disabled',
    usage: s.usage,
    metadata: p.metadata,
  };
}

export function inProgressResponse(p: ResponseParams): ResponseObject {
  return build(p, { status: 'in_progress', output: [], usage: null });
}

/** The finished turn's response: its output items built from the reply (response-output.ts). */
export function finishedResponse(p: ResponseParams, result: GenerationResult, output: ConversationItem[]): ResponseObject {
  const cut = result.finishReason === 'length';
  return build(p, {
    status: cut ? 'incomplete' : 'completed',
    output,
    usage: responsesUsage(result.usage, result.reasoningTokens),
    ...(cut ? { incompleteReason: 'max_output_tokens' as const } : {}),
  });
}

export function failedResponse(p: ResponseParams, message: string): ResponseObject {
  return build(p, { status: 'failed', output: [], usage: null, error: { code: 'server_error', message } });
}
