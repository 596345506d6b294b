// Token accounting as each API reports it. Chat and text completions use prompt_/completion_
// names, the Responses API input_/output_; all three carry Pensieve's own breakdown of the
// prompt: how much was reused, computed, and computed again.

import type { RequestUsage } from '../engine/request.js';
import type { ResponseUsage } from '../store/index.js';

export interface PensieveUsage {
  /** Prompt tokens whose KV came from the cache. */
  cached_tokens: number;
  /** Prompt tokens the model computed for this request (recomputed ones included). */
  computed_prompt_tokens: number;
  /** Of those, tokens whose KV had existed before (evicted, preempted). */
  recomputed_tokens: number;
  /** cached_tokens by the tier that held them when the request arrived (shared: the KV tier shared by replicas). */
  cached_tokens_by_tier: { device: number; host: number; disk: number; shared: number };
}

export interface CompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
  completion_tokens_details: { reasoning_tokens: number };
  pensieve: PensieveUsage;
}

export type ResponsesUsage = ResponseUsage & { pensieve: PensieveUsage };

export function pensieveUsage(u: RequestUsage): PensieveUsage {
  return {
    cached_tokens: u.cachedTokens,
    computed_prompt_tokens: u.computedPromptTokens,
    recomputed_tokens: u.recomputedTokens,
    cached_tokens_by_tier: { ...u.cachedByTier },
  };
}

/** `reasoningTokens`: of the completion tokens, those inside a think block (reasoning-tokens.ts). */
export function completionUsage(u: RequestUsage, reasoningTokens = 0): CompletionUsage {
  return {
    prompt_tokens: u.promptTokens,
    completion_tokens: u.completionTokens,
    total_tokens: u.promptTokens + u.completionTokens,
    prompt_tokens_details: { cached_tokens: u.cachedTokens },
    completion_tokens_details: { reasoning_tokens: reasoningTokens },
    pensieve: pensieveUsage(u),
  };
}

export function responsesUsage(u: RequestUsage, reasoningTokens = 0): ResponsesUsage {
  return {
    input_tokens: u.promptTokens,
    input_tokens_details: { cached_tokens: u.cachedTokens },
    output_tokens: u.completionTokens,
    output_tokens_details: { reasoning_tokens: reasoningTokens },
    total_tokens: u.promptTokens + u.completionTokens,
    pensieve: pensieveUsage(u),
  };
}
