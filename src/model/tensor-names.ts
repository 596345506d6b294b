// Which tensors a model of a given config has, under the Hugging Face names every TensorStore
// exposes, and how GGUF's names (token_embd, blk.N.attn_q, ...) map onto them. Experts are one
// 2-D tensor each under HF names (as HF checkpoints store them); GGUF stacks a layer's experts
// into one 3-D tensor per projection (ffn_gate_exps [numExperts][ff][hidden] in HF order), which
// the GGUF reader exposes as per-expert slices and the writer stacks back (expertSlot).

import { architecture, ARCHITECTURES, expertLeaf, type ExpertNames, type ExpertProjection } from './architectures/index.js';
import type { ModelConfig } from './config.js';

/** HF name → expected HF-order shape, for every tensor the config implies. */
export function expectedTensorShapes(config: ModelConfig): Map<string, number[]> {
  const { hiddenSize: d, intermediateSize: ff, vocabSize: v, numHeads, numKvHeads, headDim } = config;
  const q = numHeads * headDim;
  const kv = numKvHeads * headDim;
  const arch = architecture(config.architecture);
  const sandwich = arch.sandwichNorms;
  const post = arch.normPlacement === 'post';
  const qkNormWhole = arch.qkNormOver === 'projection';
  const out = new Map<string, number[]>();
  out.set('model.embed_tokens.weight', [v, d]);
  if (arch.opt) out.set('model.embed_positions.weight', [config.maxPositionEmbeddings + arch.opt.positionOffset, d]);
  for (let i = 0; i < config.numLayers; i++) {
    const p = `model.layers.${i}.`;
    if (!post) out.set(`${p}input_layernorm.weight`, [d]);
    if (arch.opt) out.set(`${p}input_layernorm.bias`, [d]);
    if (arch.fusedProjections) {
      out.set(`${p}self_attn.qkv_proj.weight`, [q + 2 * kv, d]);
    } else {
      out.set(`${p}self_attn.q_proj.weight`, [q, d]);
      out.set(`${p}self_attn.k_proj.weight`, [kv, d]);
      out.set(`${p}self_attn.v_proj.weight`, [kv, d]);
    }
    if (config.attentionBias) {
      out.set(`${p}self_attn.q_proj.bias`, [q]);
      out.set(`${p}self_attn.k_proj.bias`, [kv]);
      out.set(`${p}self_attn.v_proj.bias`, [kv]);
    }
    if (config.qkNorm) {
      out.set(`${p}self_attn.q_norm.weight`, [qkNormWhole ? q : headDim]);
      out.set(`${p}self_attn.k_norm.weight`, [qkNormWhole ? kv : headDim]);
    }
    out.set(`${p}self_attn.o_proj.weight`, [d, q]);
    if (arch.opt) out.set(`${p}self_attn.o_proj.bias`, [d]);
    out.set(`${p}post_attention_layernorm.weight`, [d]);
    if (arch.opt) out.set(`${p}post_attention_layernorm.bias`, [d]);
    if (sandwich) out.set(`${p}pre_feedforward_layernorm.weight`, [d]);
    if (sandwich || post) out.set(`${p}post_feedforward_layernorm.weight`, [d]);
    const experts = arch.experts;
    if (config.moe && experts) {
      const { numExperts, expertIntermediateSize: eff } = config.moe;
      out.set(`${p}${experts.router}`, [numExperts, d]);
      for (let e = 0; e < numExperts; e++) {
        out.set(`${p}${expertLeaf(experts, e, 'gate')}`, [eff, d]);
        out.set(`${p}${expertLeaf(experts, e, 'up')}`, [eff, d]);
        out.set(`${p}${expertLeaf(experts, e, 'down')}`, [d, eff]);
      }
      continue;
    }
    if (arch.opt) {
      // ReLU FFN: fc1 (here up_proj) and fc2 (down_proj), both with biases; no gate.
      out.set(`${p}mlp.up_proj.weight`, [ff, d]);
      out.set(`${p}mlp.up_proj.bias`, [ff]);
      out.set(`${p}mlp.down_proj.bias`, [d]);
    } else if (arch.fusedProjections) {
      out.set(`${p}mlp.gate_up_proj.weight`, [2 * ff, d]);
    } else {
      out.set(`${p}mlp.gate_proj.weight`, [ff, d]);
      out.set(`${p}mlp.up_proj.weight`, [ff, d]);
    }
    out.set(`${p}mlp.down_proj.weight`, [d, ff]);
  }
  out.set('model.norm.weight', [d]);
  if (arch.opt) out.set('model.norm.bias', [d]);
  if (!config.tieWordEmbeddings) out.set('lm_head.weight', [v, d]);
  return out;
}

const GLOBAL_NAMES: [gguf: string, hf: string][] = [
  ['token_embd.weight', 'model.embed_tokens.weight'],
  ['output_norm.weight', 'model.norm.weight'],
  ['output.weight', 'lm_head.weight'],
];

const LAYER_NAMES: [gguf: string, hf: string][] = [
  ['attn_norm.weight', 'input_layernorm.weight'],
  ['ffn_norm.weight', 'post_attention_layernorm.weight'],
  ['attn_q.weight', 'self_attn.q_proj.weight'],
  ['attn_k.weight', 'self_attn.k_proj.weight'],
  ['attn_v.weight', 'self_attn.v_proj.weight'],
  ['attn_q.bias', 'self_attn.q_proj.bias'],
  ['attn_k.bias', 'self_attn.k_proj.bias'],
  ['attn_v.bias', 'self_attn.v_proj.bias'],
  ['attn_q_norm.weight', 'self_attn.q_norm.weight'],
  ['attn_k_norm.weight', 'self_attn.k_norm.weight'],
  ['attn_output.weight', 'self_attn.o_proj.weight'],
  ['attn_qkv.weight', 'self_attn.qkv_proj.weight'],
  ['ffn_gate.weight', 'mlp.gate_proj.weight'],
  ['ffn_up.weight', 'mlp.up_proj.weight'],
  ['ffn_down.weight', 'mlp.down_proj.weight'],
];

// Every family's expert names: HF leaves are matched back to expert index and projection.
const EXPERT_NAMES = ARCHITECTURES.flatMap((a) => (a.experts ? [a.experts] : []));

// Gemma's four norms a layer: HF post_attention_layernorm is the attention output's norm there
// (llama.cpp's post_attention_norm), and the FFN's input norm (ffn_norm) is pre_feedforward_layernorm.
const SANDWICH_LAYER_NAMES: [gguf: string, hf: string][] = [
  ...LAYER_NAMES.filter(([g]) => g !== 'ffn_norm.weight'),
  ['post_attention_norm.weight', 'post_attention_layernorm.weight'],
  ['ffn_norm.weight', 'pre_feedforward_layernorm.weight'],
  ['post_ffw_norm.weight', 'post_feedforward_layernorm.weight'],
];

const GGUF_TO_HF_GLOBAL = new Map(GLOBAL_NAMES);
const HF_TO_GGUF_GLOBAL = new Map(GLOBAL_NAMES.map(([g, h]) => [h, g]));
const layerMaps = (names: readonly (readonly [string, string])[]) => ({ toHf: new Map(names), toGguf: new Map(names.map(([g, h]) => [h, g])) });
const PLAIN_LAYERS = layerMaps(LAYER_NAMES);
const LAYER_MAPS = new Map<string, ReturnType<typeof layerMaps>>();

/**
 * The layer name maps of a GGUF architecture (general.architecture): Gemma's sandwich names or
 * Llama's, then the family's own (Architecture.ggufLayerNames: OLMo 2's post-norms, Phi-3's
 * gate|up) in place of the entries they rename. Unknown archs get Llama's.
 */
function layerNames(ggufArch: string | undefined) {
  if (ggufArch === undefined) return PLAIN_LAYERS;
  let maps = LAYER_MAPS.get(ggufArch);
  if (!maps) {
    const families = ARCHITECTURES.filter((a) => a.ggufName === ggufArch);
    const base = families.some((a) => a.sandwichNorms) ? SANDWICH_LAYER_NAMES : LAYER_NAMES;
    const own = families.flatMap((a) => a.ggufLayerNames ?? []);
    maps = layerMaps([...base.filter(([g, h]) => !own.some(([og, oh]) => og === g || oh === h)), ...own]);
    LAYER_MAPS.set(ggufArch, maps);
  }
  return maps;
}

/**
 * The HF name of a GGUF tensor of architecture `ggufArch` (the names of a layer's norms depend on
 * it), or null for tensors HF has no name for (e.g. rope_freqs.weight). `experts` names the router
 * (ffn_gate_inp) for the file's family; the stacked expert tensors have no one HF name (see
 * expertSliceName).
 */
export function ggufToHfName(name: string, ggufArch?: string, experts?: ExpertNames): string | null {
  const global = GGUF_TO_HF_GLOBAL.get(name);
  if (global) return global;
  const m = /^blk\.(\d+)\.(.+)$/.exec(name);
  if (m && experts && m[2] === 'ffn_gate_inp.weight') return `model.layers.${m[1]}.${experts.router}`;
  const rest = m && layerNames(ggufArch).toHf.get(m[2]!);
  return rest ? `model.layers.${m[1]}.${rest}` : null;
}

/** Layer and projection of a stacked GGUF expert tensor (blk.N.ffn_gate_exps.weight), else null. */
export function ggufExpertStack(name: string): { layer: number; projection: ExpertProjection } | null {
  const m = /^blk\.(\d+)\.ffn_(gate|up|down)_exps\.weight$/.exec(name);
  return m ? { layer: Number(m[1]), projection: m[2] as ExpertProjection } : null;
}

/** The HF name of expert `e`'s slice of a stacked GGUF expert tensor. */
export function expertSliceName(experts: ExpertNames, layer: number, projection: ExpertProjection, e: number): string {
  return `model.layers.${layer}.${expertLeaf(experts, e, projection)}`;
}

/**
 * Where an HF expert tensor goes in GGUF: the stacked tensor's name and the expert's index in
 * it; null for anything else.
 */
export function expertSlot(name: string): { gguf: string; expert: number } | null {
  const m = /^model\.layers\.(\d+)\.(.+)$/.exec(name);
  if (!m) return null;
  const leaf = m[2]!;
  for (const { prefix, leaves } of EXPERT_NAMES) {
    if (!leaf.startsWith(`${prefix}.`)) continue;
    const rest = /^(\d+)\.(.+)$/.exec(leaf.slice(prefix.length + 1));
    const p = rest && (Object.keys(leaves) as ExpertProjection[]).find((k) => leaves[k] === rest[2]);
    if (p) return { gguf: `blk.${m[1]}.ffn_${p}_exps.weight`, expert: Number(rest[1]) };
  }
  return null;
}

/** The GGUF name of an HF tensor of architecture `ggufArch`, or null for names this engine's architectures do not use. */
export function hfToGgufName(name: string, ggufArch?: string): string | null {
  const global = HF_TO_GGUF_GLOBAL.get(name);
  if (global) return global;
  const slot = expertSlot(name);
  if (slot) return slot.gguf;
  const m = /^model\.layers\.(\d+)\.(.+)$/.exec(name);
  if (m && EXPERT_NAMES.some((x) => x.router === m[2])) return `blk.${m[1]}.ffn_gate_inp.weight`;
  const rest = m && layerNames(ggufArch).toGguf.get(m[2]!);
  return rest ? `blk.${m[1]}.${rest}` : null;
}

/** Layer index and HF leaf name of a per-layer tensor, e.g. model.layers.3.self_attn.q_proj.weight → [3, 'self_attn.q_proj.weight']. */
export function splitLayerName(name: string): [layer: number, leaf: string] | null {
  const m = /^model\.layers\.(\d+)\.(.+)$/.exec(name);
  return m ? [Number(m[1]), m[2]!] : null;
}
