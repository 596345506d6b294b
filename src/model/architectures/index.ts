// The architectures Pensieve runs, and lookups by the names files give them.
import { llama } from './llama.js';
import { olmo2 } from './olmo2.js';
import { opt } from './opt.js';
import { phi3 } from './phi3.js';
import { qwen2 } from './qwen2.js';
import { qwen3 } from './qwen3.js';
import { smollm3 } from './smollm3.js';
import type { Architecture, ArchitectureName } from './types.js';

export type { Architecture, ArchitectureName } from './types.js';

export const ARCHITECTURES: readonly Architecture[] = [llama, qwen2, qwen3, phi3, olmo2, smollm3, opt];

export function architecture(name: ArchitectureName): Architecture {
  return ARCHITECTURES.find((a) => a.name === name)!;
}

export function architectureByHfName(name: string): Architecture | undefined {
  return ARCHITECTURES.find((a) => a.hfClasses.includes(name) || a.hfModelTypes.includes(name));
}

export function architectureByGgufName(name: string): Architecture | undefined {
  return ARCHITECTURES.find((a) => a.ggufName === name);
}

/** "LlamaForCausalLM, MistralForCausalLM, ..." for error messages. */
export const SUPPORTED_HF_CLASSES = ARCHITECTURES.flatMap((a) => a.hfClasses).join(', ');
export const SUPPORTED_GGUF_NAMES = ARCHITECTURES.filter((a) => !a.opt).map((a) => a.ggufName).join(', ');
