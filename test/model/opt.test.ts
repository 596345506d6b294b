// OPT against a plain forward pass written here from transformers' modeling_opt.py, sharing no
// code with src/model (it parses the safetensors file itself and computes in f64): llama.cpp has
// no OPT architecture to be the reference. A tiny random OPT of opt-125m's head size (64), saved
// under OPTForCausalLM's tensor names; logits of a prompt and the reference's 32 greedy tokens
// must agree to 1e-4 of the largest logit, and Pensieve's own one-token-a-step greedy decode
// must pick the same tokens.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { ModelRunner } from '../../src/engine/model-runner.js';
import { nativeKernels } from '../../src/kernels/native.js';
import { configFromHf } from '../../src/model/config.js';
import { KvCache } from '../../src/model/kv-cache.js';
import { openModelFiles } from '../../src/model/model-files.js';
import { randomTensors, saveGgufModel, saveHfModel } from '../../src/model/random-model.js';
import { Transformer } from '../../src/model/transformer.js';
import { loadWeights } from '../../src/model/weights.js';

const MAX_REL_ERROR = 1e-4;
const GENERATE = 32;
const PROMPT = [785, 3974, 13876, 38835, 916, 279, 15678, 5562].map((t) => t % 1024);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pensieve-opt-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));

const configFile = new URL('./fixtures/opt/opt-tiny.config.json', import.meta.url).pathname;
const CONFIGS = path.resolve(import.meta.dirname, '../../bench/configs');

/** The f32 tensors of a .safetensors file by name, read directly (8-byte header length, JSON header, data). */
function readSafetensors(file: string): Map<string, { shape: number[]; data: Float32Array }> {
  const buf = fs.readFileSync(file);
  const headerLen = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    assert.equal(t.dtype, 'F32');
    const bytes = buf.subarray(8 + headerLen + t.data_offsets[0], 8 + headerLen + t.data_offsets[1]);
    out.set(name, { shape: t.shape, data: new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)) });
  }
  return out;
}

/** OPTForCausalLM's logits for every position of `tokens` (modeling_opt.py, do_layer_norm_before). */
function referenceLogits(st: ReturnType<typeof readSafetensors>, c: { hidden: number; heads: number; layers: number; vocab: number }, tokens: number[]): number[][] {
  const W = (name: string) => st.get(name)!.data;
  const d = c.hidden, hd = d / c.heads, T = tokens.length;
  const linear = (x: number[], w: Float32Array, b: Float32Array | null, outDim: number) => {
    const y = new Array<number>(outDim);
    for (let o = 0; o < outDim; o++) {
      let acc = b ? b[o]! : 0;
      for (let i = 0; i < x.length; i++) acc += w[o * x.length + i]! * x[i]!;
      y[o] = acc;
    }
    return y;
  };
  const layerNorm = (x: number[], w: Float32Array, b: Float32Array) => {
    const mean = x.reduce((a, v) => a + v, 0) / x.length;
    const variance = x.reduce((a, v) => a + (v - mean) ** 2, 0) / x.length;
    return x.map((v, i) => ((v - mean) / Math.sqrt(variance + 1e-5)) * w[i]! + b[i]!);
  };
  const embed = W('model.decoder.embed_tokens.weight'), positions = W('model.decoder.embed_positions.weight');
  // OPTLearnedPositionalEmbedding: position p reads row p + 2.
  let h = tokens.map((tok, p) => Array.from({ length: d }, (_, i) => embed[tok * d + i]! + positions[(p + 2) * d + i]!));
  for (let l = 0; l < c.layers; l++) {
    const p = `model.decoder.layers.${l}.`;
    const a = h.map((x) => layerNorm(x, W(`${p}self_attn_layer_norm.weight`), W(`${p}self_attn_layer_norm.bias`)));
    const q = a.map((x) => linear(x, W(`${p}self_attn.q_proj.weight`), W(`${p}self_attn.q_proj.bias`), d).map((v) => v * hd ** -0.5));
    const k = a.map((x) => linear(x, W(`${p}self_attn.k_proj.weight`), W(`${p}self_attn.k_proj.bias`), d));
    const v = a.map((x) => linear(x, W(`${p}self_attn.v_proj.weight`), W(`${p}self_attn.v_proj.bias`), d));
    const attn = q.map((qt, t) => {
      const out = new Array<number>(d).fill(0);
      for (let head = 0; head < c.heads; head++) {
        const o = head * hd;
        const scores = Array.from({ length: t + 1 }, (_, s) => { let acc = 0; for (let i = 0; i < hd; i++) acc += qt[o + i]! * k[s]![o + i]!; return acc; });
        const max = Math.max(...scores);
        const e = scores.map((x) => Math.exp(x - max));
        const sum = e.reduce((x, y) => x + y, 0);
        for (let s = 0; s <= t; s++) for (let i = 0; i < hd; i++) out[o + i]! += (e[s]! / sum) * v[s]![o + i]!;
      }
      return out;
    });
    h = h.map((x, t) => linear(attn[t]!, W(`${p}self_attn.out_proj.weight`), W(`${p}self_attn.out_proj.bias`), d).map((y, i) => x[i]! + y));
    const ffnDim = st.get(`${p}fc1.bias`)!.shape[0]!;
    h = h.map((x) => {
      const f = linear(layerNorm(x, W(`${p}final_layer_norm.weight`), W(`${p}final_layer_norm.bias`)), W(`${p}fc1.weight`), W(`${p}fc1.bias`), ffnDim).map((y) => Math.max(0, y));
      return linear(f, W(`${p}fc2.weight`), W(`${p}fc2.bias`), d).map((y, i) => x[i]! + y);
    });
  }
  // The classifier is tied to embed_tokens.
  return h.map((x) => linear(layerNorm(x, W('model.decoder.final_layer_norm.weight'), W('model.decoder.final_layer_norm.bias')), embed, null, c.vocab));
}

const argmax = (row: ArrayLike<number>) => { let best = 0; for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i; return best; };

describe('OPT against a plain forward pass of transformers modeling_opt', () => {
  const config = configFromHf(JSON.parse(fs.readFileSync(configFile, 'utf8')), configFile);
  const tensors = randomTensors(config, { seed: 5, dtype: 'f32', std: 1 / Math.sqrt(config.hiddenSize) });
  const dir = path.join(work, 'opt-hf');
  saveHfModel(dir, config, tensors);
  const st = readSafetensors(path.join(dir, 'model.safetensors'));
  const shape = { hidden: config.hiddenSize, heads: config.numHeads, layers: config.numLayers, vocab: config.vocabSize };

  it('is saved under OPTForCausalLM names, and its config.json reads back the same', () => {
    assert.ok(st.has('model.decoder.layers.1.fc2.bias'));
    assert.ok(st.has('model.decoder.embed_positions.weight'));
    assert.deepEqual(st.get('model.decoder.embed_positions.weight')!.shape, [128 + 2, 256]);
    assert.ok(![...st.keys()].some((n) => n.startsWith('model.layers.')));
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as unknown;
    assert.deepEqual(configFromHf(json, 'config.json'), config);
  });

  it(`logits within ${MAX_REL_ERROR} of the reference's; greedy ${GENERATE} tokens equal`, (t) => {
    const tokens = [...PROMPT];
    for (let i = 0; i < GENERATE; i++) tokens.push(argmax(referenceLogits(st, shape, tokens).at(-1)!));
    const want = referenceLogits(st, shape, tokens.slice(0, -1));

    const files = openModelFiles(dir);
    assert.deepEqual(files.warnings, []);
    assert.equal(files.config.architecture, 'opt');
    const weights = loadWeights(files.config, files.tensors, nativeKernels);
    files.tensors.close();
    const runner = () => new ModelRunner(new Transformer(files.config, weights, nativeKernels), new KvCache(files.config, 4, 16, 'f32'));
    const all = tokens.slice(0, -1);
    const got = runner().step([{ tokens: all, positions: all.map((_, i) => i), blockTable: [2, 0, 3, 1], contextLen: all.length, logits: 'all' }])[0]!;
    let diff = 0, scale = 0;
    want.flat().forEach((w, i) => { diff = Math.max(diff, Math.abs(got[i]! - w)); scale = Math.max(scale, Math.abs(w)); });
    t.diagnostic(`opt safetensors: relative error ${(diff / scale).toExponential(2)} over ${all.length}×${config.vocabSize} logits`);
    assert.ok(diff / scale < MAX_REL_ERROR, `relative error ${diff / scale}`);

    const step = runner();
    let next = argmax(step.step([{ tokens: PROMPT, positions: PROMPT.map((_, i) => i), blockTable: [2, 0, 3, 1], contextLen: PROMPT.length, logits: 'last' }])[0]!);
    const generated = [next];
    for (let pos = PROMPT.length; generated.length < GENERATE; pos++) {
      next = argmax(step.step([{ tokens: [next], positions: [pos], blockTable: [2, 0, 3, 1], contextLen: pos + 1, logits: 'last' }])[0]!);
      generated.push(next);
    }
    assert.deepEqual(generated, tokens.slice(PROMPT.length));
    assert.ok(new Set(generated).size > 1, 'a greedy run stuck on one token checks little');
  });

  it('has no GGUF form (llama.cpp has no OPT architecture)', () => {
    assert.throws(() => saveGgufModel(path.join(work, 'opt.gguf'), config, tensors), /OPT has no GGUF form/);
  });
});

describe('OPT configs', () => {
  const read = (name: string) => JSON.parse(fs.readFileSync(path.join(CONFIGS, `${name}.json`), 'utf8')) as Record<string, unknown>;

  it('opt-125m and opt-1.3b as published', () => {
    const small = configFromHf(read('opt-125m'), 'opt-125m');
    assert.deepEqual([small.hiddenSize, small.numHeads, small.headDim, small.intermediateSize, small.numLayers, small.vocabSize], [768, 12, 64, 3072, 12, 50272]);
    assert.equal(small.tieWordEmbeddings, true);
    const big = configFromHf(read('opt-1.3b'), 'opt-1.3b');
    assert.deepEqual([big.hiddenSize, big.numHeads, big.intermediateSize, big.numLayers], [2048, 32, 8192, 24]);
  });

  it('opt-350m\'s post-norm and embedding projection, and other activations, are refused by name', () => {
    const base = read('opt-125m');
    assert.throws(() => configFromHf({ ...base, do_layer_norm_before: false }, 'c.json'), /do_layer_norm_before: false .* is not supported/);
    assert.throws(() => configFromHf({ ...base, word_embed_proj_dim: 512 }, 'c.json'), /word_embed_proj_dim 512 .* is not supported/);
    assert.throws(() => configFromHf({ ...base, activation_function: 'gelu' }, 'c.json'), /activation_function gelu .* is not supported/);
    assert.throws(() => configFromHf({ ...base, enable_bias: false }, 'c.json'), /enable_bias: false is not supported/);
  });
});
