// One generation request as the engine tracks it: what to generate, what has
// been generated, and the numbers its usage report needs.
import type { Tokenizer } from '../model/tokenizer/types.js';
import { OutputText } from './output.js';
import type { ResponseFormat } from './grammar/format.js';
import type { GrammarMatcher } from './grammar/matcher.js';
import { Sampler, type SamplingParams } from './sampler.js';

export interface RequestInput {
  id: string;
  /** The whole prompt: for a conversation, its history plus the new turn. */
  promptTokens: number[];
  /** Requests of one conversation share (and keep) its KV state; null for stateless ones. */
  conversationId: string | null;
  sampling: SamplingParams;
  maxTokens: number;
  /** User stop strings (the model's own stop tokens are always on). */
  stop?: string[];
  /** Extra stop token ids, and whether the model's end-of-sequence ids are ignored (benchmarks). */
  stopTokenIds?: number[];
  ignoreEos?: boolean;
  /** Report each generated token's log probability with this many alternatives; absent = off. */
  logprobs?: number | null;
  /** Constrain the output to JSON (response_format); absent: free text. */
  responseFormat?: ResponseFormat;
}

export type FinishReason = 'stop' | 'length' | 'abort';

/** Tokens per KV tier: where reused prompt tokens were found. */
export interface TierTokens {
  /** Used in place (the conversation's device chunks, or the prefix cache). */
  device: number;
  /** Swapped in from the host tier. */
  host: number;
  /** Swapped in from the disk tier. */
  disk: number;
  /** Fetched from the KV tier shared by replicas (through the disk tier, on their first swap-in). */
  shared: number;
}

export interface RequestUsage {
  promptTokens: number;
  completionTokens: number;
  /** Prompt tokens whose KV was reused from the cache (every tier). */
  cachedTokens: number;
  /** cachedTokens by the tier that held them when the request arrived. */
  cachedByTier: TierTokens;
  /** Prompt tokens computed by the model (recomputed after preemption or eviction included). */
  computedPromptTokens: number;
  /** Of those, tokens whose KV had existed before (evicted, preempted, copied on write). */
  recomputedTokens: number;
}

export type RequestStatus = 'waiting' | 'running' | 'finished';

export class Request {
  readonly id: string;
  readonly conversationId: string | null;
  readonly promptTokens: readonly number[];
  readonly maxTokens: number;
  readonly stopTokenIds: ReadonlySet<number>;
  /** Alternatives per token for logprobs; null: no logprobs. */
  readonly logprobs: number | null;
  readonly outputTokens: number[] = [];
  readonly sampler: Sampler;
  readonly output: OutputText;
  /** The grammar state of a request with a response format; null for free text. */
  readonly grammar: GrammarMatcher | null;
  readonly arrivedAt = performance.now();
  status: RequestStatus = 'waiting';
  /** Whether this request keeps its conversation's KV pinned while it waits. */
  holdsPin = false;
  /** The shared KV tier is being asked for its prompt's chunks: it is admitted once that ends. */
  awaitingSharedTier = false;
  /** Set at first admission; a preempted request keeps its first figure. */
  cachedTokens: number | null = null;
  cachedByTier: TierTokens | null = null;
  computedPromptTokens = 0;
  recomputedTokens = 0;
  /** Leading tokens (prompt, then generated) whose KV this request has computed or reused. */
  computedThrough = 0;
  firstTokenAt: number | null = null;
  lastTokenAt: number | null = null;

  /** `grammar` builds the request's matcher from its stop ids (the engine's Grammars.matcher). */
  constructor(
    input: RequestInput,
    tokenizer: Tokenizer,
    modelStopIds: readonly number[],
    grammar?: (stopIds: ReadonlySet<number>) => GrammarMatcher,
  ) {
    this.id = input.id;
    this.conversationId = input.conversationId;
    this.promptTokens = input.promptTokens;
    this.maxTokens = input.maxTokens;
    this.logprobs = input.logprobs ?? null;
    this.stopTokenIds = new Set([...(input.ignoreEos ? [] : modelStopIds), ...(input.stopTokenIds ?? [])]);
    this.grammar = grammar?.(this.stopTokenIds) ?? null;
    this.sampler = new Sampler(input.sampling, input.promptTokens, this.grammar);
    this.output = new OutputText(tokenizer, input.stop ?? [], input.promptTokens.slice(-8));
  }

  /** Prompt plus everything generated so far: what a preempted request must have computed again. */
  allTokens(): number[] {
    return [...this.promptTokens, ...this.outputTokens];
  }

  usage(): RequestUsage {
    return {
      promptTokens: this.promptTokens.length,
      completionTokens: this.outputTokens.length,
      cachedTokens: this.cachedTokens ?? 0,
      cachedByTier: this.cachedByTier ?? { device: 0, host: 0, disk: 0, shared: 0 },
      computedPromptTokens: this.computedPromptTokens,
      recomputedTokens: this.recomputedTokens,
    };
  }
}
