// Whole models in every quant mix llama-quantize writes, against llama.cpp's logits on the same
// files (fixtures/quant-mixes, made by bench/llama-cpp/make-quant-mixes.ts; CI needs no llama.cpp).
//
// Tolerance: test-backend-ops checks each mul_mat of a quantized weight with NMSE =
// Σ(a−b)²/Σb² ≤ 5e-4 (test_mul_mat::max_nmse_err). Both engines quantize activations to int8
// before each matmul (llama.cpp with an f16 scale and per 256 values for K-quants; Pensieve with
// an f32 scale per 32, see src/kernels/types.ts), and any difference before a quantization
// flips some roundings after it, so the two noises become independent and add up along the
// stages a logit passes through in series (per layer attention and FFN, then the classifier):
// the logits must agree within 5e-4 per stage. And Pensieve must be about as accurate as
// llama.cpp: against the exact model (the same file with weights dequantized to f32 and f32
// activations, whose logits equal llama.cpp's f32 path to ~1e-12), its NMSE may be at most 1.5×
// llama.cpp's. Greedy picks must agree wherever llama.cpp's top-2 margin exceeds the error the
// tolerance allows in that row.
//
// Backend: the native kernels where they can keep every matrix of the file in its type, the
// reference kernels otherwise; each test names the one it ran.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { describe, it } from 'node:test';
import { ModelRunner } from '../../src/engine/model-runner.js';
import { nativeKernels } from '../../src/kernels/native.js';
import { referenceKernels } from '../../src/kernels/reference.js';
import type { Kernels } from '../../src/kernels/types.js';
import { KvCache } from '../../src/model/kv-cache.js';
import { openModelFiles } from '../../src/model/model-files.js';
import { stackMatrices } from '../../src/model/matrix-stack.js';
import { Transformer } from '../../src/model/transformer.js';
import { loadWeights, packedWeightBytes, weightMatrices, type WeightFormat } from '../../src/model/weights.js';
import type { ModelConfig } from '../../src/model/config.js';

const MAX_NMSE_PER_STAGE = 5e-4;
const dir = new URL('./fixtures/quant-mixes/', import.meta.url);

interface Reference {
  llamaCpp: string;
  prompt: number[];
  models: Record<string, { file: string; bytes: number; generated: number[]; logits: string }>;
}
const ref = JSON.parse(fs.readFileSync(new URL('llama-cpp-logits.json', dir), 'utf8')) as Reference;

function nmse(a: Float32Array, b: Float32Array): number {
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return num / den;
}

/** Logits of every position of `tokens` run as one prefill. */
function allLogits(config: ModelConfig, weights: ReturnType<typeof loadWeights>, kernels: Kernels, tokens: number[]): Float32Array {
  const runner = new ModelRunner(new Transformer(config, weights, kernels), new KvCache(config, 4, 16, 'f32'));
  const [logits] = runner.step([{ tokens, positions: tokens.map((_, i) => i), blockTable: [2, 0, 3, 1], contextLen: tokens.length, logits: 'all' }]);
  return logits!;
}

function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

function top2Margin(row: Float32Array): number {
  const sorted = [...row].sort((a, b) => b - a);
  return sorted[0]! - sorted[1]!;
}

describe(`quant mixes against llama.cpp ${ref.llamaCpp.slice(0, 10)}`, () => {
  for (const [name, m] of Object.entries(ref.models)) {
    it(`${name}: every tensor type loads packed; logits match llama.cpp's; greedy tokens equal`, (t) => {
      const path = new URL(m.file, dir).pathname;
      const load = (kernels: Kernels, format: WeightFormat) => {
        const files = openModelFiles(path);
        try {
          return { config: files.config, weights: loadWeights(files.config, files.tensors, kernels, { format }), files };
        } finally {
          files.tensors.close();
        }
      };
      const probe = openModelFiles(path);
      const matrixTypes = new Set(probe.tensors.names().map((n) => probe.tensors.info(n)!).filter((i) => i.shape.length === 2).map((i) => i.dtype));
      probe.tensors.close();
      const kernels: Kernels = [...matrixTypes].every((d) => nativeKernels.packs(d)) ? nativeKernels : referenceKernels;
      const { config, weights } = load(kernels, 'auto');

      // Every matrix stays in its file type (auto): resident ≈ file size.
      const packedTypes = new Set(weightMatrices(weights).map((w) => w.dtype));
      assert.deepEqual([...packedTypes].sort(), [...matrixTypes].sort());
      const resident = packedWeightBytes(weights);
      assert.ok(resident <= m.bytes && resident >= 0.9 * m.bytes, `resident ${resident} bytes for a ${m.bytes}-byte file`);
      const stackParts = weights.layers.map((l) => stackMatrices(l.wqkv).length + (l.ffn.kind === 'dense' ? stackMatrices(l.ffn.gateUp).length : 0));

      const tokens = [...ref.prompt, ...m.generated];
      const logits = allLogits(config, weights, kernels, tokens);
      const want = new Float32Array(Buffer.from(m.logits, 'base64').buffer.slice(0));
      assert.equal(logits.length, want.length);
      const exact = allLogits(config, load(kernels, 'f32').weights, kernels, tokens);

      const maxNmse = MAX_NMSE_PER_STAGE * (2 * config.numLayers + 1);
      const nmseLlama = nmse(logits, want), oursVsExact = nmse(logits, exact), llamaVsExact = nmse(want, exact);
      // Rows whose llama.cpp margin beats the error the tolerance allows a row must pick alike.
      const V = config.vocabSize;
      let compared = 0;
      for (let r = 0; r < tokens.length; r++) {
        const wantRow = want.subarray(r * V, (r + 1) * V), gotRow = logits.subarray(r * V, (r + 1) * V);
        const rowScale = Math.sqrt(wantRow.reduce((s, v) => s + v * v, 0));
        const allowed = 2 * Math.sqrt(maxNmse) * rowScale;
        if (top2Margin(wantRow) <= allowed) continue;
        compared++;
        assert.equal(argmax(gotRow), argmax(wantRow), `row ${r}: Pensieve picks ${argmax(gotRow)}, llama.cpp ${argmax(wantRow)}`);
      }
      t.diagnostic(`${kernels.name} kernels; types ${[...matrixTypes].join(' ')}; stack parts per layer ${stackParts.join(',')}; `
        + `NMSE vs llama.cpp ${nmseLlama.toExponential(2)} (max ${maxNmse.toExponential(1)}); vs exact: ours ${oursVsExact.toExponential(2)}, `
        + `llama.cpp's ${llamaVsExact.toExponential(2)}; greedy compared on ${compared}/${tokens.length} rows; resident ${resident} of ${m.bytes} bytes`);
      assert.ok(nmseLlama <= maxNmse, `NMSE against llama.cpp ${nmseLlama} > ${maxNmse}`);
      assert.ok(oursVsExact <= 1.5 * llamaVsExact, `NMSE against the exact model ${oursVsExact} > 1.5 × llama.cpp's ${llamaVsExact}`);
    });
  }
});
