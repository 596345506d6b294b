// Loading a quantized GGUF: --weights repacks it (dequantizing first) on any backend, and a
// backend that cannot compute a type says which tensor and what to do instead.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nativeKernels } from '../../src/kernels/native.js';
import { referenceKernels } from '../../src/kernels/reference.js';
import { toFloat32 } from '../../src/kernels/dtype.js';
import { ModelLoadError } from '../../src/model/errors.js';
import { openModelFiles } from '../../src/model/model-files.js';
import { loadWeights, weightMatrices } from '../../src/model/weights.js';

const file = new URL('./fixtures/quant-mixes/llama-256-Q4_K_M.gguf', import.meta.url).pathname;

test('--weights bf16 and q8_0 repack a Q4_K_M file on the native backend, from the dequantized values', () => {
  for (const format of ['bf16', 'q8_0', 'f32'] as const) {
    const files = openModelFiles(file);
    const w = loadWeights(files.config, files.tensors, nativeKernels, { format });
    assert.deepEqual([...new Set(weightMatrices(w).map((m) => m.dtype))], [format]);
    // The embedding row is the Q4_K row dequantized, then rounded to the packed format.
    const raw = files.tensors.read('model.embed_tokens.weight');
    files.tensors.close();
    const cols = raw.shape[1]!;
    const out = new Float32Array(cols);
    nativeKernels.embedding(w.embed, Int32Array.of(5), out);
    const row = toFloat32(raw.dtype, raw.data, 6 * cols).subarray(5 * cols);
    const expected = referenceKernels.packMatrix({ dtype: 'f32', rows: 1, cols, data: new Uint8Array(row.slice().buffer) }, format);
    const want = new Float32Array(cols);
    referenceKernels.embedding(expected, Int32Array.of(0), want);
    assert.deepEqual(out, want, format);
  }
});

test("'auto' on a backend that cannot compute a type names the tensor and the way out", (t) => {
  if (nativeKernels.packs('q4_K') && nativeKernels.packs('q6_K')) return t.skip('the native backend computes Q4_K_M');
  const files = openModelFiles(file);
  t.after(() => files.tensors.close());
  assert.throws(() => loadWeights(files.config, files.tensors, nativeKernels), (err: unknown) =>
    err instanceof ModelLoadError && /tensor \S+ has type q[46]_K, which the native kernels cannot compute yet; load it with --weights/.test(err.message));
});
