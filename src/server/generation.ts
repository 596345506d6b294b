// One engine request as the HTTP side sees it: submitted, accepted or refused (a 400 before any
// byte of a stream is written), then its text arriving piece by piece until it finishes. It
// measures the latencies for /metrics, stops generating when the client goes away, and hands
// back what a stateful turn must keep: the canonical history (prompt tokens as templated plus
// the tokens as sampled, and the text they stand for).

import type { FastifyReply } from 'fastify';
import type { ConversationHistory } from '../engine/chat-prompt.js';
import { RequestRejectedError, type AcceptedPrompt, type RequestHandle } from '../engine/client.js';
import type { ResponseFormat } from '../engine/grammar/format.js';
import type { PromptInput } from '../engine/protocol.js';
import type { TokenLogprob } from '../engine/logprobs.js';
import type { FinishReason, RequestUsage } from '../engine/request.js';
import type { SamplingParams } from '../engine/sampler.js';
import { promptOpensReasoning } from '../model/tool-syntax.js';
import type { ServerContext } from './context.js';
import { ApiError, rejected, serverError } from './errors.js';
import { ReasoningTokenCounter } from './reasoning-tokens.js';

export interface GenerationRequest {
  prompt: PromptInput;
  /** The KV cache key of the conversation this continues; null for a stateless request. */
  conversationId: string | null;
  sampling: SamplingParams;
  maxTokens: number;
  stop: string[];
  /** vLLM's extension: keep generating past end-of-sequence tokens (benchmarks, load tests). */
  ignoreEos?: boolean;
  /** Constrain the output to JSON (response_format / text.format). */
  responseFormat?: ResponseFormat;
  /** What the route calls its prompt ('messages', 'input', 'prompt'), for error params. */
  promptParam: string;
  /** Each generated token's log probability with this many alternatives; null or absent = off. */
  logprobs?: number | null;
}

/** Called with each non-empty piece of text, and the logprobs of the tokens that arrived since the last call. */
export type DeltaFn = (delta: string, logprobs: TokenLogprob[]) => void;

export interface GenerationResult {
  /** The reply as the client sees it. */
  text: string;
  finishReason: FinishReason;
  stopString: string | null;
  usage: RequestUsage;
  prompt: AcceptedPrompt;
  /** The conversation's canonical history after this turn; null when it must not be kept. */
  history: ConversationHistory | null;
  /** Each generated token's logprobs, when the request asked for them. */
  logprobs: TokenLogprob[] | null;
  /** Of the generated tokens, those a thinking model spent inside its <think> block. */
  reasoningTokens: number;
}

export class Generation {
  /** Rejects when the server's drain deadline cuts this generation (see cut). */
  private readonly cutShort: Promise<never>;
  private rejectCut!: (err: ApiError) => void;
  private readonly untrack: () => void;
  private firstTokenSeen!: () => void;
  /** Resolves when the first token arrives or the generation ends: its prompt's KV is computed by then. */
  readonly firstToken = new Promise<void>((resolve) => (this.firstTokenSeen = resolve));

  private constructor(
    private readonly ctx: ServerContext,
    private readonly handle: RequestHandle,
    readonly prompt: AcceptedPrompt,
    private readonly trimLeadingSpace: boolean,
    private readonly wantsLogprobs: boolean,
    /** performance.now() at submission: latencies count the time queued in the engine. */
    private readonly submittedAt: number,
  ) {
    this.cutShort = new Promise<never>((_, reject) => (this.rejectCut = reject));
    this.cutShort.catch(() => {}); // read only by run()
    try {
      this.untrack = ctx.lifecycle.track(this);
    } catch (err) {
      handle.abort(); // accepted after the drain deadline: it must not run on unseen
      throw err;
    }
  }

  /**
   * Submits the request and waits until the engine has accepted it. Throws a 400 ApiError when
   * the engine refuses the prompt (too long for the context, bad token ids). With `reply`, the
   * request is aborted as soon as that client disconnects.
   */
  static async start(ctx: ServerContext, request: GenerationRequest, reply?: FastifyReply): Promise<Generation> {
    const { promptParam, ...engineRequest } = request;
    const submittedAt = performance.now();
    const handle = ctx.engine.generate({ ...engineRequest, ignoreEos: engineRequest.ignoreEos ?? false });
    if (reply) abortOnDisconnect(reply, handle);
    let prompt: AcceptedPrompt;
    try {
      prompt = await handle.accepted;
    } catch (err) {
      if (err instanceof RequestRejectedError) throw rejected(err, promptParam);
      throw new ApiError(503, `The engine cannot take requests: ${(err as Error).message}`, 'server_error');
    }
    // The fallback chat template (models without one) opens the reply with "Assistant:" and no
    // space, because SentencePiece puts the space on the next word's token, and it renders a
    // stored reply as "Assistant: <content>". The content is the text without that space, so a
    // re-rendered conversation starts with the cached history's text and its KV is reused.
    const trim = request.prompt.kind === 'chat' && !ctx.engine.model.hasChatTemplate;
    return new Generation(ctx, handle, prompt, trim, request.logprobs != null, submittedAt);
  }

  abort(): void {
    this.handle.abort();
  }

  /**
   * Ends the generation now with `err` (the server is shutting down): run() throws it without
   * waiting for the engine, so a stream gets its error event even from a stalled engine.
   */
  cut(err: ApiError): void {
    this.handle.abort();
    this.rejectCut(err);
  }

  /**
   * Consumes the request's events, calling `onDelta` with each non-empty piece of text (and, with
   * logprobs on, once more with '' at the end for tokens whose text was never shown).
   */
  async run(onDelta?: DeltaFn): Promise<GenerationResult> {
    let raw = '';
    let shown = '';
    const logprobs: TokenLogprob[] = [];
    let sentLogprobs = 0;
    const unsent = () => {
      const out = logprobs.slice(sentLogprobs);
      sentLogprobs = logprobs.length;
      return out;
    };
    let trimPending = this.trimLeadingSpace;
    let lastTokenAt: number | null = null;
    const reasoning = this.ctx.engine.model.reasons ? new ReasoningTokenCounter(promptOpensReasoning(this.prompt.text)) : null;
    const emit = (piece: string) => {
      raw += piece;
      let delta = piece;
      if (trimPending && delta !== '') {
        // Exactly one space, once: the template's "Assistant: " supplies exactly one.
        if (delta.startsWith(' ')) delta = delta.slice(1);
        trimPending = false;
      }
      if (delta === '') return;
      shown += delta;
      onDelta?.(delta, unsent());
    };
    const events = this.handle.events[Symbol.asyncIterator]();
    try {
      for (;;) {
        const next = await Promise.race([events.next(), this.cutShort]);
        if (next.done === true) break;
        const ev = next.value;
        if (ev.type === 'token') {
          const now = performance.now();
          if (lastTokenAt === null) this.ctx.metrics.observeFirstToken((now - this.submittedAt) / 1000);
          else this.ctx.metrics.observeInterToken((now - lastTokenAt) / 1000);
          lastTokenAt = now;
          this.firstTokenSeen();
          if (ev.logprobs !== undefined) logprobs.push(ev.logprobs);
          reasoning?.push(ev.text);
          emit(ev.text);
        } else if (ev.type === 'finish') {
          this.firstTokenSeen();
          emit(ev.text);
          if (sentLogprobs < logprobs.length) onDelta?.('', unsent());
          this.ctx.metrics.observeFinish(ev.reason, ev.usage, (performance.now() - this.submittedAt) / 1000);
          // A user stop string cut the text inside the sampled tokens: the tokens no longer stand
          // for the text the conversation keeps, so the next turn re-renders from its items.
          const keep = ev.reason !== 'abort' && ev.stopString === null;
          return {
            text: shown,
            finishReason: ev.reason,
            stopString: ev.stopString,
            usage: ev.usage,
            prompt: this.prompt,
            history: keep ? { tokens: [...this.prompt.tokens, ...ev.outputTokens], text: this.prompt.text + raw } : null,
            logprobs: this.wantsLogprobs ? logprobs : null,
            reasoningTokens: Math.min(reasoning?.count ?? 0, ev.usage.completionTokens),
          };
        } else {
          throw serverError(`generation failed: ${ev.message}`);
        }
      }
    } finally {
      this.firstTokenSeen();
      this.untrack();
    }
    throw serverError('generation ended without finishing');
  }
}

/** Stops generating for a client that closed its connection before the response was complete. */
function abortOnDisconnect(reply: FastifyReply, handle: RequestHandle): void {
  const res = reply.raw;
  if (res.destroyed && !res.writableFinished) {
    handle.abort();
    return;
  }
  res.once('close', () => {
    if (!res.writableFinished) handle.abort();
  });
}
