// The architectures Pensieve runs, and lookups by the names files give them.
import { gemma2 } from './gemma2.js';
import { gemma3 } from './gemma3.js';
import { llama } from './llama.js';
import { mixtral } from './mixtral.js';
import { olmo2 } from './olmo2.js';
import { opt } from './opt.js';
import { phi3 } from './phi3.js';
import { qwen2 } from './qwen2.js';
import { qwen3 } from './qwen3.js';
import { qwen3moe } from './qwen3moe.js';
import { smollm3 } from './smollm3.js';
import type { Architecture, ArchitectureName, ExpertNames, ExpertProjection } from './types.js';

export type { Architecture, ArchitectureName, ExpertNames, ExpertProjection } from './types.js';

export const ARCHITECTURES: readonly Architecture[] = [
  llama,
  qwen2,
  qwen3,
  qwen3moe,
  mixtral,
  gemma2,
  gemma3,
  phi3,
  olmo2,
  smollm3,
  opt,
];

export function architecture(name: ArchitectureName): Architecture {
  return ARCHITECTURES.find((a) => a.name === name)!;
}

export function architectureByHfName(name: string): Architecture | undefined {
  return ARCHITECTURES.find((a) => a.hfClasses.includes(name) || a.hfModelTypes.includes(name));
}

/**
 * The family of a GGUF arch; `experts` says whether the file has an expert count, which is what
 * separates families llama.cpp writes under one arch (llama: Llama or Mixtral). Undefined when no
 * family fits, e.g. an expert count on a dense-only arch.
 */
export function architectureByGgufName(name: string, experts: boolean): Architecture | undefined {
  return ARCHITECTURES.find((a) => a.ggufName === name && (a.experts !== null) === experts);
}

/** The HF leaf (under model.layers.N.) of expert e's projection p. */
export function expertLeaf(experts: ExpertNames, e: number, p: ExpertProjection): string {
  return `${experts.prefix}.${e}.${experts.leaves[p]}`;
}

/** "LlamaForCausalLM, MistralForCausalLM, ..." for error messages. */
export const SUPPORTED_HF_CLASSES = ARCHITECTURES.flatMap((a) => a.hfClasses).join(', ');
/** GGUF archs, once each (Llama and Mixtral share `llama`); OPT has none (llama.cpp lacks it). */
export const SUPPORTED_GGUF_NAMES = [...new Set(ARCHITECTURES.filter((a) => !a.opt).map((a) => a.ggufName))].join(', ');
