// How many of a reply's tokens were reasoning (OpenAI's reasoning_tokens): the tokens a thinking
// model (Qwen3, QwQ, DeepSeek-R1) generated inside its <think> block, the closing tag included.
// Counted from the text each token added, so it needs no knowledge of the tag's token ids.

import { THINK_CLOSE, THINK_OPEN } from '../model/tool-syntax.js';

export class ReasoningTokenCounter {
  private text = '';
  private tokens = 0;
  private state: 'maybe' | 'open' | 'done';

  /** @param opensInPrompt the prompt ends inside a think block (the template opened it). */
  constructor(opensInPrompt: boolean) {
    this.state = opensInPrompt ? 'open' : 'maybe';
  }

  /** One generated token's text. */
  push(piece: string): void {
    if (this.state === 'done') return;
    this.text += piece;
    if (this.state === 'maybe') {
      const head = this.text.trimStart();
      // A reply that starts by opening a think block reasons; anything else does not.
      if (head.length < THINK_OPEN.length && THINK_OPEN.startsWith(head)) {
        this.tokens++;
        return;
      }
      if (!head.startsWith(THINK_OPEN)) {
        this.tokens = 0;
        this.state = 'done';
        return;
      }
      this.state = 'open';
    }
    this.tokens++;
    if (this.text.includes(THINK_CLOSE)) this.state = 'done';
  }

  /** Reasoning tokens so far (a block never closed counts whole). */
  get count(): number {
    return this.state === 'maybe' ? 0 : this.tokens;
  }
}
