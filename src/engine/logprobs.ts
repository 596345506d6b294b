// Log probabilities of sampled tokens (OpenAI's `logprobs` / `top_logprobs`): the log-softmax of
// the model's raw logits at that step, before penalties, bias, temperature and truncation — what
// vLLM reports by default (its raw_logprobs), and what does not change with sampling settings.
// Computed only for requests that ask; a 150k-vocabulary row costs one pass of exp.
import type { Tokenizer } from '../model/tokenizer/types.js';
import { tokenPiece } from '../model/tokenizer/token-bytes.js';

/** OpenAI's limit on top_logprobs (chat); completions allow at most 5. */
export const MAX_TOP_LOGPROBS = 20;

export interface TopLogprob {
  token: string;
  bytes: number[];
  logprob: number;
}

/** One generated token: its text, bytes and log probability, and the most likely alternatives. */
export interface TokenLogprob extends TopLogprob {
  /** The `top` most likely tokens at that step, most likely first (ties: lower id first). */
  top: TopLogprob[];
}

/** log Σ exp(logits), in double precision. */
export function logSumExp(logits: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  return max + Math.log(sum);
}

/** Ids of the k largest logits, largest first (ties: lower id first). */
export function topIds(logits: Float32Array, k: number): number[] {
  const ids: number[] = [];
  if (k <= 0) return ids;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i]!;
    if (ids.length === k && !(v > logits[ids[k - 1]!]!)) continue;
    let j = ids.length < k ? ids.length : k - 1;
    while (j > 0 && logits[ids[j - 1]!]! < v) j--;
    ids.splice(j, 0, i);
    if (ids.length > k) ids.pop();
  }
  return ids;
}

export function tokenLogprob(tokenizer: Tokenizer, logits: Float32Array, token: number, top: number): TokenLogprob {
  const logZ = logSumExp(logits);
  const entry = (id: number): TopLogprob => ({ ...pieceOf(tokenizer, id), logprob: logits[id]! - logZ });
  const pieceOf = (t: Tokenizer, id: number) => {
    const p = tokenPiece(t, id);
    return { token: p.text, bytes: p.bytes };
  };
  return { ...entry(token), top: topIds(logits, top).map(entry) };
}
