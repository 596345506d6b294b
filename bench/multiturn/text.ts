// Text of a wanted length cut from real data, for the workloads' messages.
import type { Rng } from './rng.js';

/** Lengths in the data are characters; ≈4 characters per token for English BPE vocabularies. */
export const CHARS_PER_TOKEN = 4;

/** About `chars` characters of real ShareGPT text: random prompts joined, cut at a word. */
export function realText(rng: Rng, prompts: readonly string[], chars: number): string {
  let text = rng.pick(prompts);
  while (text.length < chars) text += '\n\n' + rng.pick(prompts);
  return cut(text, chars);
}

export function cut(text: string, chars: number): string {
  if (text.length <= chars) return text;
  const at = text.lastIndexOf(' ', chars);
  return text.slice(0, at > chars / 2 ? at : chars);
}
