// Whether a file's tensors are exactly the model its config describes. Every tensor must be one
// the forward pass uses; anything else is refused by name, because running without it would
// silently give output that differs from llama.cpp's or transformers' on the same file (both
// would use, say, a bias on attn_output). The few tensors that are known to change nothing are
// let through with a warning.

import { architecture } from './architectures/index.js';
import type { ModelConfig } from './config.js';
import { ModelLoadError } from './errors.js';
import { shapeText, type TensorStore } from './formats/tensor.js';
import { expectedTensorShapes, hfToGgufName } from './tensor-names.js';

// Routed and shared experts, in GGUF (merged `_exps` tensors, or Mixtral's older per-expert
// ffn_gate.N) and HF names (Mixtral's block_sparse_moe, Qwen-MoE's mlp.experts / mlp.gate): in a
// model whose config has no experts they are refused as experts rather than as unknown tensors.
// A mixture-of-experts config expects its own (tensor-names.ts); anything else, such as a shared
// expert, is refused by name as unused.
const EXPERT_TENSORS = [
  /^blk\.\d+\.ffn_(gate|up|down)_(exps|shexp)\.weight$/,
  /^blk\.\d+\.ffn_gate_inp(_shexp)?\.weight$/,
  /^blk\.\d+\.ffn_(gate|up|down)\.\d+\.weight$/,
  /^model\.layers\.\d+\.(block_sparse_moe|mlp\.experts|mlp\.shared_expert)\./,
  /^model\.layers\.\d+\.mlp\.(gate|shared_expert_gate)\.weight$/,
];

/** The first tensor of a mixture-of-experts layer among `names`, if any. */
function expertTensor(names: readonly string[]): string | undefined {
  return names.find((n) => EXPERT_TENSORS.some((re) => re.test(n)));
}

/**
 * Throws ModelLoadError unless the store holds every tensor the config implies, with its shape,
 * and nothing else the model would have to ignore; returns warnings for tensors ignored because
 * they cannot matter. 1-D tensors (norms, biases) must be float: no converter quantizes them and
 * the model reads them as they are.
 */
export function checkTensors(config: ModelConfig, store: TensorStore, ggufNames = false): string[] {
  const label = (name: string): string => {
    const gguf = ggufNames ? hfToGgufName(name, architecture(config.architecture).ggufName) : null;
    return gguf ? `${gguf} (${name})` : name;
  };
  const names = store.names();
  const experts = config.moe ? undefined : expertTensor(names);
  if (experts !== undefined) {
    throw new ModelLoadError(store.path, `mixture-of-experts tensors (${label(experts)}) in a model whose config has no experts (${config.architecture}) are not supported`);
  }

  const expected = expectedTensorShapes(config);
  const warnings: string[] = [];
  const unused: string[] = [];
  for (const name of names) {
    if (expected.has(name)) continue;
    const harmless = harmlessReason(config, store, name);
    if (harmless === 'used') continue;
    if (harmless !== null) warnings.push(`${store.path}: ignoring tensor ${label(name)}: ${harmless}`);
    else unused.push(label(name));
  }
  const shown = unused.slice(0, 6).join(', ') + (unused.length > 6 ? `, ... (${unused.length} in all)` : '');
  const unusedText = `tensors the ${config.architecture} architecture does not use: ${shown}`;

  for (const [name, shape] of expected) {
    const info = store.info(name);
    // A renamed or foreign tensor often explains a missing one: say both.
    if (!info) throw new ModelLoadError(store.path, `missing tensor ${label(name)}${unused.length > 0 ? `; the file has ${unusedText}` : ''}`);
    if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
      throw new ModelLoadError(store.path, `tensor ${label(name)} has shape ${shapeText(info.shape)} but the config implies ${shapeText(shape)}`);
    }
    if (shape.length === 1 && info.dtype !== 'f32' && info.dtype !== 'f16' && info.dtype !== 'bf16') {
      throw new ModelLoadError(store.path, `tensor ${label(name)} is ${info.dtype.toUpperCase()}; 1-D tensors must be F32, F16 or BF16`);
    }
  }
  if (unused.length > 0) {
    const biases = unused.some((n) => /\.bias\b/.test(n)) ? ' (Pensieve adds no bias there; llama.cpp and transformers would)' : '';
    throw new ModelLoadError(store.path, `${unusedText}${biases}; running without them would give different output`);
  }
  return warnings;
}

/** 'used' for a tensor read outside the layer weights, a reason for one that cannot matter, else null. */
function harmlessReason(config: ModelConfig, store: TensorStore, name: string): 'used' | string | null {
  // Llama 3 GGUFs carry llama3 rope scaling as this tensor; configFromGguf reads it.
  if (name === 'rope_freqs.weight' && config.ropeFreqFactors) return 'used';
  // Phi-3's LongRoPE factor sets; configFromGguf reads them.
  if ((name === 'rope_factors_long.weight' || name === 'rope_factors_short.weight') && config.ropeScaling?.type === 'longrope') return 'used';
  // A buffer older transformers saved: theta^(-2j/d), which rope.ts computes from the config.
  if (/(^|\.)rotary_emb\.inv_freq$/.test(name)) return 'RoPE frequencies are computed from the config';
  // transformers ties lm_head to embed_tokens after loading, so the embedding wins.
  if (name === 'lm_head.weight' && config.tieWordEmbeddings && store.info('model.embed_tokens.weight')) {
    return 'tie_word_embeddings is true, so the classifier is model.embed_tokens.weight (as in transformers)';
  }
  return null;
}
