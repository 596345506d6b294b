// The Responses API's streaming events, in the order OpenAI sends them and the official client's
// accumulator expects: the response created and in progress, one message output item with one
// output_text part, text deltas, then each of those closed and the response completed (or
// incomplete, or failed). Every event carries a sequence_number.

import type { MessageItem, ResponseObject } from '../../store/index.js';
import type { SseStream } from '../sse.js';

const OUTPUT = { output_index: 0 };
const PART = { output_index: 0, content_index: 0 };

export class ResponseEventStream {
  private sequence = 0;

  constructor(private readonly sse: SseStream, private readonly itemId: string) {}

  private emit(type: string, fields: Record<string, unknown>): void {
    this.sse.send({ type, sequence_number: this.sequence++, ...fields }, type);
  }

  /** From response.created to the empty output_text part the deltas fill. */
  begin(response: ResponseObject): void {
    this.emit('response.created', { response });
    this.emit('response.in_progress', { response });
    this.emit('response.output_item.added', {
      ...OUTPUT,
      item: { id: this.itemId, type: 'message', status: 'in_progress', role: 'assistant', content: [] },
    });
    this.emit('response.content_part.added', { item_id: this.itemId, ...PART, part: { type: 'output_text', text: '', annotations: [] } });
  }

  delta(text: string): void {
    this.emit('response.output_text.delta', { item_id: this.itemId, ...PART, delta: text, logprobs: [] });
  }

  /** Closes the part and the item with their final text, then the response (completed or incomplete). */
  finish(response: ResponseObject): void {
    const item = response.output[0] as MessageItem;
    const part = item.content[0]!;
    const text = part.type === 'output_text' ? part.text : '';
    this.emit('response.output_text.done', { item_id: this.itemId, ...PART, text, logprobs: [] });
    this.emit('response.content_part.done', { item_id: this.itemId, ...PART, part });
    this.emit('response.output_item.done', { ...OUTPUT, item });
    this.emit(response.status === 'incomplete' ? 'response.incomplete' : 'response.completed', { response });
  }

  fail(response: ResponseObject): void {
    this.emit('response.failed', { response });
  }
}
