// A Responses turn's output items, built as the reply streams in: a reasoning item for the think
// block, a message item for the text, a function_call item per call. Each item opens when its
// first piece arrives and closes when the next begins or the reply ends; an observer (the SSE
// event stream) sees each step, the non-streamed path only the finished list. One builder for
// both, so a streamed response and a stored one hold the same items and ids.

import type { ConversationItem, FunctionCallItem, ItemStatus, MessageItem, ReasoningItem } from '../store/index.js';
import { newId } from '../store/index.js';
import type { OutputEvent, OutputParser } from '../model/output-parser.js';
import { newCallId } from './tools.js';
import type { ToolSyntax } from '../model/tool-syntax.js';

export interface OutputObserver {
  added(item: ConversationItem, index: number): void;
  delta(item: ConversationItem, index: number, text: string): void;
  done(item: ConversationItem, index: number): void;
}

export class ResponseOutput {
  readonly items: ConversationItem[] = [];
  private open: ConversationItem | null = null;

  /**
   * `parser` splits the reply (null: all of it is the message's text); the message item takes
   * `messageId`, announced before generation; calls get ids in `syntax`'s form.
   */
  constructor(
    private readonly messageId: string,
    private readonly parser: OutputParser | null,
    private readonly syntax: ToolSyntax | null,
    private readonly observer: OutputObserver | null = null,
  ) {}

  push(text: string): void {
    if (this.parser === null) this.on({ type: 'content', text });
    else for (const ev of this.parser.push(text)) this.on(ev);
  }

  /** The reply ended: `incomplete` when max_output_tokens cut it. Returns the items. */
  end(incomplete: boolean): ConversationItem[] {
    if (this.parser !== null) for (const ev of this.parser.end()) this.on(ev);
    // A reply with nothing in it is still an (empty) message, as OpenAI answers.
    if (this.items.length === 0) this.openItem(this.message());
    this.close(incomplete ? 'incomplete' : 'completed');
    for (const item of this.items) if (item.status === 'in_progress') item.status = incomplete ? 'incomplete' : 'completed';
    return this.items;
  }

  private on(ev: OutputEvent): void {
    switch (ev.type) {
      case 'reasoning': {
        if (this.open?.type !== 'reasoning') this.openItem({ type: 'reasoning', id: newId('rs'), summary: [], content: [{ type: 'reasoning_text', text: '' }], status: 'in_progress' });
        const item = this.open as ReasoningItem;
        item.content[0]!.text += ev.text;
        this.observer?.delta(item, this.items.length - 1, ev.text);
        break;
      }
      case 'content': {
        if (this.open?.type !== 'message') this.openItem(this.message());
        const item = this.open as MessageItem;
        const part = item.content[0]!;
        if (part.type === 'output_text') part.text += ev.text;
        this.observer?.delta(item, this.items.length - 1, ev.text);
        break;
      }
      case 'call':
        this.openItem({ type: 'function_call', id: newId('fc'), call_id: newCallId(this.syntax), name: ev.name, arguments: '', status: 'in_progress' });
        break;
      case 'arguments': {
        const item = this.open as FunctionCallItem;
        item.arguments += ev.text;
        this.observer?.delta(item, this.items.length - 1, ev.text);
        break;
      }
    }
  }

  /** The message item: the announced id the first time, a fresh one for text after a call. */
  private message(): MessageItem {
    const used = this.items.some((i) => i.id === this.messageId);
    return { type: 'message', id: used ? newId('msg') : this.messageId, role: 'assistant', content: [{ type: 'output_text', text: '', annotations: [] }], status: 'in_progress' };
  }

  private openItem(item: ConversationItem): void {
    this.close('completed');
    this.items.push(item);
    this.open = item;
    this.observer?.added(item, this.items.length - 1);
  }

  private close(status: ItemStatus): void {
    if (this.open === null) return;
    this.open.status = status;
    this.observer?.done(this.open, this.items.length - 1);
    this.open = null;
  }
}
