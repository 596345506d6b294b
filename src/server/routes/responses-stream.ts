// The Responses API's streaming events, in the order OpenAI sends them and the official client's
// accumulator expects: the response created and in progress; then for each output item as the
// reply produces it (response-output.ts) — a reasoning item with a reasoning_text part, a message
// with an output_text part, a function_call — its added event, its deltas, its done events; then
// the response completed (or incomplete, or failed). Every event carries a sequence_number.

import type { ConversationItem, ResponseObject } from '../../store/index.js';
import type { OutputObserver } from '../response-output.js';
import type { SseStream } from '../sse.js';

export class ResponseEventStream implements OutputObserver {
  private sequence = 0;

  constructor(private readonly sse: SseStream) {}

  private emit(type: string, fields: Record<string, unknown>): void {
    this.sse.send({ type, sequence_number: this.sequence++, ...fields }, type);
  }

  begin(response: ResponseObject): void {
    this.emit('response.created', { response });
    this.emit('response.in_progress', { response });
  }

  added(item: ConversationItem, index: number): void {
    const at = { output_index: index };
    if (item.type === 'message' || item.type === 'reasoning') {
      this.emit('response.output_item.added', { ...at, item: { ...item, content: [] } });
      const part = item.type === 'message' ? { type: 'output_text', text: '', annotations: [] } : { type: 'reasoning_text', text: '' };
      this.emit('response.content_part.added', { item_id: item.id, ...at, content_index: 0, part });
    } else {
      this.emit('response.output_item.added', { ...at, item: { ...item } });
    }
  }

  delta(item: ConversationItem, index: number, text: string): void {
    const at = { item_id: item.id, output_index: index };
    if (item.type === 'message') this.emit('response.output_text.delta', { ...at, content_index: 0, delta: text, logprobs: [] });
    else if (item.type === 'reasoning') this.emit('response.reasoning_text.delta', { ...at, content_index: 0, delta: text });
    else if (item.type === 'function_call') this.emit('response.function_call_arguments.delta', { ...at, delta: text });
  }

  done(item: ConversationItem, index: number): void {
    const at = { item_id: item.id, output_index: index };
    if (item.type === 'message') {
      const part = item.content[0]!;
      this.emit('response.output_text.done', { ...at, content_index: 0, text: part.type === 'output_text' ? part.text : '', logprobs: [] });
      this.emit('response.content_part.done', { ...at, content_index: 0, part });
    } else if (item.type === 'reasoning') {
      const part = item.content[0]!;
      this.emit('response.reasoning_text.done', { ...at, content_index: 0, text: part.text });
      this.emit('response.content_part.done', { ...at, content_index: 0, part });
    } else if (item.type === 'function_call') {
      this.emit('response.function_call_arguments.done', { ...at, name: item.name, arguments: item.arguments });
    }
    this.emit('response.output_item.done', { output_index: index, item: { ...item } });
  }

  /** The response (completed or incomplete), its items already closed. */
  finish(response: ResponseObject): void {
    this.emit(response.status === 'incomplete' ? 'response.incomplete' : 'response.completed', { response });
  }

  fail(response: ResponseObject): void {
    this.emit('response.failed', { response });
  }
}
