// One `pensieve chat` session: what each input line does (a turn, or /help, /reset, /exit),
// and what Ctrl-C does. Nothing a turn runs into ends the session: an error is printed and the
// prompt comes back; Ctrl-C stops the reply that is streaming; a conversation that no longer
// fits the model's context is resent without its oldest turns, and the user is told.

import { ApiRequestError, streamTurn, type TurnResult } from './chat-client.js';

export interface ChatSessionOptions {
  /** The server's /v1 base URL. */
  base: string;
  apiKey: string | undefined;
  model: string;
  instructions: string | undefined;
  maxOutputTokens: number;
  temperature: number;
  write: (text: string) => void;
  /** Ends the session from outside a line (the second Ctrl-C): closes the input. */
  exit: () => void;
}

/** One user message and the reply to it, kept so the conversation can be resent trimmed. */
interface Exchange {
  user: string;
  assistant: string;
}

export const CHAT_COMMANDS = `commands:
  /help    this list
  /reset   start a new conversation (asks first)
  /exit    leave (also Ctrl-D, or Ctrl-C twice at the prompt)
Ctrl-C while a reply is streaming stops the reply.
`;

export class ChatSession {
  /** The last stored response: the server holds the conversation up to it. */
  private previous: string | undefined;
  /** The same conversation as the client knows it (the turns behind `previous`). */
  private history: Exchange[] = [];
  private confirmingReset = false;
  private reply: AbortController | null = null;
  private interruptedAtPrompt = false;

  constructor(private readonly opts: ChatSessionOptions) {}

  /** Handles one input line; false when the session ends. */
  async onLine(raw: string): Promise<boolean> {
    this.interruptedAtPrompt = false;
    const line = raw.trim();
    if (this.confirmingReset) {
      this.confirmingReset = false;
      if (/^y(es)?$/i.test(line)) this.reset();
      else this.opts.write('(kept the conversation)\n');
      return true;
    }
    if (line === '') return true;
    if (line.startsWith('/')) return this.command(line);
    try {
      await this.send(line);
    } catch (err) {
      const e = err as Error;
      const detail = e instanceof ApiRequestError || !process.env.PENSIEVE_DEBUG ? e.message : (e.stack ?? e.message);
      this.opts.write(`\nerror: ${detail}\n`);
    }
    return true;
  }

  /** Ctrl-C: stops a streaming reply; at the prompt the second one in a row ends the session. */
  interrupt(): void {
    if (this.reply !== null) {
      this.reply.abort();
    } else if (this.interruptedAtPrompt) {
      this.opts.write('\n');
      this.opts.exit();
    } else {
      this.interruptedAtPrompt = true;
      this.opts.write('\n(Ctrl-C again to leave, or /exit)\n> ');
    }
  }

  private command(line: string): boolean {
    const name = line.split(/\s+/)[0];
    if (name === '/exit' || name === '/quit') return false;
    if (name === '/help') {
      this.opts.write(CHAT_COMMANDS);
    } else if (name === '/reset') {
      if (this.history.length === 0 && this.previous === undefined) {
        this.reset();
      } else {
        this.confirmingReset = true;
        this.opts.write(`start a new conversation and forget this one (${turns(this.history.length)})? [y/N]\n`);
      }
    } else {
      this.opts.write(`unknown command ${name}: /help lists the commands\n`);
    }
    return true;
  }

  private reset(): void {
    this.previous = undefined;
    this.history = [];
    this.opts.write('(new conversation)\n');
  }

  /**
   * Sends a turn after the stored conversation. If the server answers that it no longer fits the
   * context, the turns are resent as input without the oldest, one more dropped per refusal (a
   * refusal costs the server a tokenization, no compute), until they fit or none are left.
   */
  private async send(line: string): Promise<void> {
    const controller = new AbortController();
    this.reply = controller;
    try {
      let kept = this.history.length;
      let body: Record<string, unknown> = { input: line, previous_response_id: this.previous };
      for (;;) {
        try {
          const dropped = this.history.length - kept;
          const result = await streamTurn(this.opts.base, this.opts.apiKey, { ...this.turnFields(), ...body }, {
            signal: controller.signal,
            onAccepted: () => {
              if (dropped > 0) this.opts.write(`(the conversation outgrew the model's context: its oldest ${turns(dropped)} dropped)\n`);
            },
            onText: (text) => this.opts.write(text),
          });
          this.finish(line, result, kept);
          return;
        } catch (err) {
          if (!(err instanceof ApiRequestError && err.code === 'context_length_exceeded')) throw err;
          if (kept === 0) {
            throw new ApiRequestError(err.status, `${err.message} (this message alone is too long for the model's context)`, err.code);
          }
          kept -= 1;
          body = { input: [...this.messages(this.history.slice(this.history.length - kept)), { role: 'user', content: line }] };
        }
      }
    } finally {
      this.reply = null;
    }
  }

  private turnFields(): Record<string, unknown> {
    return {
      model: this.opts.model,
      instructions: this.opts.instructions,
      max_output_tokens: this.opts.maxOutputTokens,
      temperature: this.opts.temperature,
    };
  }

  private messages(exchanges: readonly Exchange[]): { role: 'user' | 'assistant'; content: string }[] {
    return exchanges.flatMap((x) => [
      { role: 'user' as const, content: x.user },
      { role: 'assistant' as const, content: x.assistant },
    ]);
  }

  /** An interrupted reply is not stored by the server, so the conversation stays as it was. */
  private finish(line: string, result: TurnResult, kept: number): void {
    if (result.status === 'interrupted') {
      this.opts.write('\n[interrupted]\n');
      return;
    }
    this.opts.write('\n');
    if (result.status === 'incomplete') this.opts.write('(the reply stopped at its token limit)\n');
    this.history = [...this.history.slice(this.history.length - kept), { user: line, assistant: result.text }];
    this.previous = result.id || undefined;
  }
}

function turns(n: number): string {
  return n === 1 ? '1 turn' : `${n} turns`;
}
