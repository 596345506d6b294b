// `pensieve make-model`: a random model of a config's shape, with a real tokenizer, that the
// loaders read back (GGUF and Hugging Face directory), deterministic in its seed. Tiny shapes:
// the real-size models are the benchmark's business, not the tests'.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { ModelRunner } from '../../src/engine/model-runner.js';
import { KvCache } from '../../src/model/kv-cache.js';
import { loadModel } from '../../src/model/load.js';
import { CLI } from '../helpers/paths.js';

const run = promisify(execFile);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pensieve-make-model-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A Qwen2-shaped config, tiny but for its vocab: `vocab` decides whether the Qwen2.5 vocab fits whole. */
function writeConfig(name: string, vocab: number): string {
  const file = path.join(dir, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify({
    architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', hidden_size: 64, intermediate_size: 96,
    num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: vocab,
    max_position_embeddings: 512, rms_norm_eps: 1e-6, rope_theta: 10000, tie_word_embeddings: true,
    ...(vocab > 151645 ? { bos_token_id: 151643, eos_token_id: 151645 } : { eos_token_id: vocab - 1 }),
  }));
  return file;
}

/** Runs the command; its stderr (the progress it prints) comes back. */
async function makeModel(args: string[]): Promise<string> {
  return (await run(process.execPath, [CLI, 'make-model', ...args])).stderr;
}

async function greedy(modelPath: string, prompt: string, steps: number): Promise<number[]> {
  const m = await loadModel(modelPath);
  const ids = m.tokenizer.encode(prompt);
  const runner = new ModelRunner(m.transformer, new KvCache(m.config, 4));
  const table = [0, 1, 2, 3];
  const argmax = (l: Float32Array) => l.reduce((best, v, i) => (v > l[best]! ? i : best), 0);
  let next = argmax(runner.step([{ tokens: ids, positions: ids.map((_, i) => i), blockTable: table, contextLen: ids.length, logits: 'last' }])[0]!);
  const out = [next];
  for (let pos = ids.length; out.length < steps; pos++) {
    next = argmax(runner.step([{ tokens: [next], positions: [pos], blockTable: table, contextLen: pos + 1, logits: 'last' }])[0]!);
    out.push(next);
  }
  return out;
}

test('a GGUF with the whole Qwen2.5 vocab loads, tokenizes like Qwen2.5 and runs', async () => {
  const config = writeConfig('whole', 151936);
  const file = path.join(dir, 'whole.gguf');
  const progress = await makeModel(['--config', config, '--dtype', 'q8_0', '--out', file]);
  // Without a terminal, each step still shows: what is being made, then where each step is.
  const steps = ['pensieve: making ', 'random weights: 0%', 'random weights: 100%', 'quantizing to q8_0: 0%', 'quantizing to q8_0: 100%', 'pensieve: wrote '];
  const at = steps.map((s) => progress.indexOf(s));
  assert.ok(at.every((i, k) => i >= 0 && (k === 0 || i > at[k - 1]!)), `steps in order in:\n${progress}`);
  const m = await loadModel(file);
  assert.equal(m.config.vocabSize, 151936);
  assert.deepEqual(m.tokenizer.encode('Hello world'), [9707, 1879]);
  assert.equal(m.tokenizer.decode(m.tokenizer.encode('Hello world')), 'Hello world');
  assert.ok(m.stopIds.includes(151645), 'stops on <|im_end|>');
  assert.ok(m.chatTemplate?.includes('im_start'), 'carries the chat template');
  assert.equal((await greedy(file, 'Hello world', 4)).length, 4);
});

test('the same seed gives the same bytes; a bf16 HF directory of a smaller vocab keeps the merges among its tokens', async () => {
  const config = writeConfig('small', 1000);
  const a = path.join(dir, 'a'), b = path.join(dir, 'b');
  await makeModel(['--config', config, '--out', a, '--seed', '3']);
  await makeModel(['--config', config, '--out', b, '--seed', '3']);
  assert.ok(fs.readFileSync(path.join(a, 'model.safetensors')).equals(fs.readFileSync(path.join(b, 'model.safetensors'))));
  const m = await loadModel(a);
  const ids = m.tokenizer.encode('the cat');
  assert.ok(ids.every((id) => id < 1000), `ids ${ids} inside the vocab`);
  assert.equal(m.tokenizer.decode(ids), 'the cat');
  assert.deepEqual(await greedy(a, 'the cat', 3), await greedy(b, 'the cat', 3));
});

test('q8_0 needs a GGUF', async () => {
  await assert.rejects(makeModel(['--config', writeConfig('x', 1000), '--dtype', 'q8_0', '--out', path.join(dir, 'x')]), /q8_0 needs a \.gguf/);
});

test('a Qwen3 config (head_dim 32 beside hidden 64 / 4 heads) cut to --layers 1: GGUF and HF load and generate alike', async () => {
  const config = path.join(dir, 'qwen3.json');
  fs.writeFileSync(config, JSON.stringify({
    architectures: ['Qwen3ForCausalLM'], model_type: 'qwen3', hidden_size: 64, intermediate_size: 96, head_dim: 32,
    num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 1000, attention_bias: false,
    max_position_embeddings: 512, rms_norm_eps: 1e-6, rope_theta: 1000000, tie_word_embeddings: true, eos_token_id: 999,
    sliding_window: null, use_sliding_window: false,
  }));
  const gguf = path.join(dir, 'qwen3.gguf'), hf = path.join(dir, 'qwen3-hf');
  const progress = await makeModel(['--config', config, '--layers', '1', '--dtype', 'f32', '--out', gguf]);
  assert.match(progress, /qwen3, 1 layers/);
  await makeModel(['--config', config, '--layers', '1', '--dtype', 'f32', '--out', hf]);
  const m = await loadModel(gguf);
  assert.deepEqual([m.config.architecture, m.config.numLayers, m.config.headDim, m.config.qkNorm, m.config.attentionBias], ['qwen3', 1, 32, true, false]);
  assert.deepEqual(await greedy(gguf, 'the cat', 6), await greedy(hf, 'the cat', 6));
  await assert.rejects(makeModel(['--config', config, '--layers', '5', '--out', path.join(dir, 'y.gguf')]), /--layers 5 is more than the config's 4/);
});

test('Gemma 2 and Gemma 3 configs with windows shorter than the prompt: GGUF and HF load alike and generate the same tokens', async () => {
  for (const family of ['gemma2', 'gemma3-4b']) {
    const config = path.resolve(import.meta.dirname, `../model/fixtures/architectures/${family}.config.json`);
    const gguf = path.join(dir, `${family}.gguf`), hf = path.join(dir, `${family}-hf`);
    await makeModel(['--config', config, '--dtype', 'f32', '--out', gguf]);
    await makeModel(['--config', config, '--dtype', 'f32', '--out', hf]);
    const [a, b] = [await loadModel(gguf), await loadModel(hf)];
    // The norms' 1 travels in the GGUF's weights, not in its config; the rest must agree.
    const { normWeightOffset, ...hfRest } = b.config;
    assert.equal(normWeightOffset, 1);
    assert.equal(a.config.normWeightOffset, undefined);
    assert.deepEqual(a.config, hfRest);
    assert.ok(a.config.slidingWindow && a.config.slidingWindow.size < 8, `${family}: a window of ${a.config.slidingWindow?.size}`);
    const prompt = 'the cat sat on the mat and looked at the dog in the garden';
    assert.ok(a.tokenizer.encode(prompt).length > 8);
    assert.deepEqual(await greedy(gguf, prompt, 12), await greedy(hf, prompt, 12), family);
  }
});
