// OPT's config.json (OPTConfig: ffn_dim, do_layer_norm_before, word_embed_proj_dim, ...) as a
// ModelConfig, and back. What the OPT forward pass does not do (post-norm opt-350m, an embedding
// projection, other activations, no biases) is refused by name.
import { z } from 'zod';
import { validateConfig, type ModelConfig } from './config.js';
import { ModelLoadError } from './errors.js';

const posInt = z.number().int().positive();
const tokenId = z.number().int().nonnegative();

const optConfigSchema = z.looseObject({
  hidden_size: posInt,
  ffn_dim: posInt,
  num_hidden_layers: posInt,
  num_attention_heads: posInt,
  vocab_size: posInt,
  max_position_embeddings: posInt.optional(),
  do_layer_norm_before: z.boolean().optional(),
  word_embed_proj_dim: posInt.optional(),
  activation_function: z.string().optional(),
  enable_bias: z.boolean().optional(),
  layer_norm_elementwise_affine: z.boolean().optional(),
  _remove_final_layer_norm: z.boolean().optional(),
  tie_word_embeddings: z.boolean().optional(),
  bos_token_id: tokenId.nullish(),
  eos_token_id: z.union([tokenId, z.array(tokenId)]).nullish(),
});

/** OPT's LayerNorm eps (torch's default; OPTConfig has no key for it). */
const LAYER_NORM_EPS = 1e-5;

export function optConfigFromHf(json: unknown, file: string): ModelConfig {
  const parsed = optConfigSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ModelLoadError(file, `invalid config.json: ${issues}`);
  }
  const c = parsed.data;
  const refuse = (what: string) => { throw new ModelLoadError(file, `${what} is not supported`); };
  if (c.do_layer_norm_before === false) refuse('do_layer_norm_before: false (post-norm OPT, e.g. opt-350m)');
  if (c.word_embed_proj_dim !== undefined && c.word_embed_proj_dim !== c.hidden_size) {
    refuse(`word_embed_proj_dim ${c.word_embed_proj_dim} (project_in/project_out around hidden_size ${c.hidden_size})`);
  }
  if (c.activation_function !== undefined && c.activation_function !== 'relu') refuse(`activation_function ${c.activation_function} (only relu)`);
  if (c.enable_bias === false) refuse('enable_bias: false');
  if (c.layer_norm_elementwise_affine === false) refuse('layer_norm_elementwise_affine: false');
  if (c._remove_final_layer_norm) refuse('_remove_final_layer_norm');
  const eos = c.eos_token_id;
  const config: ModelConfig = {
    architecture: 'opt',
    hiddenSize: c.hidden_size,
    intermediateSize: c.ffn_dim,
    numLayers: c.num_hidden_layers,
    numHeads: c.num_attention_heads,
    numKvHeads: c.num_attention_heads,
    headDim: c.hidden_size / c.num_attention_heads,
    vocabSize: c.vocab_size,
    maxPositionEmbeddings: c.max_position_embeddings ?? 2048,
    rmsNormEps: LAYER_NORM_EPS,
    ropeTheta: 10000,
    ropeScaling: null,
    ropeStyle: 'neox',
    tieWordEmbeddings: c.tie_word_embeddings ?? true,
    attentionBias: true,
    qkNorm: false,
    bosTokenId: c.bos_token_id ?? null,
    eosTokenIds: eos == null ? [] : Array.isArray(eos) ? [...new Set(eos)] : [eos],
  };
  validateConfig(config, file);
  return config;
}

/** The config.json OPTForCausalLM would write for this config. */
export function optHfConfigJson(config: ModelConfig): Record<string, unknown> {
  if (config.rmsNormEps !== LAYER_NORM_EPS || config.ropeScaling !== null || config.numKvHeads !== config.numHeads
    || config.headDim * config.numHeads !== config.hiddenSize) {
    throw new Error('this OPT config has no config.json equivalent (eps, rope scaling, GQA or head size)');
  }
  return {
    architectures: ['OPTForCausalLM'],
    model_type: 'opt',
    hidden_size: config.hiddenSize,
    ffn_dim: config.intermediateSize,
    num_hidden_layers: config.numLayers,
    num_attention_heads: config.numHeads,
    vocab_size: config.vocabSize,
    max_position_embeddings: config.maxPositionEmbeddings,
    word_embed_proj_dim: config.hiddenSize,
    do_layer_norm_before: true,
    activation_function: 'relu',
    enable_bias: true,
    tie_word_embeddings: config.tieWordEmbeddings,
    bos_token_id: config.bosTokenId,
    eos_token_id: config.eosTokenIds.length === 0 ? null : config.eosTokenIds.length === 1 ? config.eosTokenIds[0] : config.eosTokenIds,
  };
}
