import * as fs from 'node:fs';
import { openModelFiles } from '../../src/model/model-files.js';
import { loadWeights, type WeightFormat } from '../../src/model/weights.js';
import { referenceKernels as k } from '../../src/kernels/reference.js';
import { ModelRunner } from '../../src/engine/model-runner.js';
import { Transformer } from '../../src/model/transformer.js';
import { KvCache } from '../../src/model/kv-cache.js';
const ref = JSON.parse(fs.readFileSync('test/model/fixtures/quant-mixes/llama-cpp-logits.json', 'utf8'));
const name = process.argv[2]!;
const m = ref.models[name];
const want = new Float32Array(Buffer.from(m.logits, 'base64').buffer.slice(0));
const tokens = [...ref.prompt, ...m.generated];
function run(format: WeightFormat) {
  const files = openModelFiles(`test/model/fixtures/quant-mixes/${m.file}`);
  const w = loadWeights(files.config, files.tensors, k, { format });
  const runner = new ModelRunner(new Transformer(files.config, w, k), new KvCache(files.config, 4, 16, 'f32'));
  return runner.step([{ tokens, positions: tokens.map((_: number, i: number) => i), blockTable: [2, 0, 3, 1], contextLen: tokens.length, logits: 'all' }])[0]!;
}
const nmse = (a: Float32Array, b: Float32Array) => { let n = 0, d = 0; for (let i = 0; i < a.length; i++) { n += (a[i]! - b[i]!) ** 2; d += b[i]! ** 2; } return n / d; };
const q = run('auto'), f = run('f32');
console.log(name, 'auto vs llama', nmse(q, want).toExponential(2), 'f32-dequant vs llama', nmse(f, want).toExponential(2), 'auto vs f32-dequant', nmse(q, f).toExponential(2));
