// Every way a model can fail to load becomes a ModelLoadError naming the file and the problem,
// never a stack trace from deep inside a parser.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import type { ModelConfig } from '../../../src/model/config.js';
import { ModelLoadError } from '../../../src/model/errors.js';
import { readGguf } from '../../../src/model/formats/gguf.js';
import { writeSafetensors } from '../../../src/model/formats/safetensors-writer.js';
import { openModelFiles } from '../../../src/model/model-files.js';
import { randomTensors, saveGgufModel, saveHfModel } from '../../../src/model/random-model.js';
import { scaledConfig, scratchDir, SHARED_MODELS } from './fixtures.js';

const STORIES_GGUF = path.join(SHARED_MODELS, 'stories260K/stories260K.gguf');
const STORIES_BIN = path.join(SHARED_MODELS, 'stories260K/stories260K.bin');
const CONFIG: ModelConfig = scaledConfig('TinyLlama-1.1B-Chat-v1.0.json', { numLayers: 2, headDim: 8, intermediateSize: 64, vocabSize: 64 });

function assertLoadError(fn: () => unknown, file: string, problem: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ModelLoadError, `expected ModelLoadError, got ${err instanceof Error ? err.stack : String(err)}`);
    assert.ok(err.message.startsWith(`${file}: `), `message should start with the file: ${err.message}`);
    assert.match(err.problem, problem);
    return true;
  });
}

function writeCopy(dir: string, name: string, bytes: Uint8Array): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, bytes);
  return p;
}

/** Offset of a GGUF tensor info's type field: after its name, n_dims and dims. */
function ggufTypeOffset(bytes: Buffer, ggufName: string, nDims: number): number {
  const at = bytes.indexOf(Buffer.from(ggufName));
  assert.ok(at > 0, `${ggufName} in header`);
  return at + ggufName.length + 4 + 8 * nDims;
}

describe('not a model', () => {
  test('a path that does not exist', () => {
    const p = '/nonexistent/pensieve/model.gguf';
    assertLoadError(() => openModelFiles(p), p, /no such file or directory/);
  });

  test('an empty file', (t) => {
    const p = writeCopy(scratchDir(t), 'empty.gguf', new Uint8Array(0));
    assertLoadError(() => openModelFiles(p), p, /^empty file$/);
  });

  test('random bytes', (t) => {
    const bytes = new Uint8Array(4096);
    let x = 12345;
    for (let i = 0; i < bytes.length; i++) bytes[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
    const p = writeCopy(scratchDir(t), 'noise.bin', bytes);
    assertLoadError(() => openModelFiles(p), p, /^not a model: expected a GGUF file, a llama2.c checkpoint, or a directory/);
  });

  test('a directory without config.json, and one without weights', (t) => {
    const dir = scratchDir(t);
    assertLoadError(() => openModelFiles(dir), dir, /no config.json/);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...JSON.parse(fs.readFileSync(path.join(SHARED_MODELS, 'stories260K-hf/config.json'), 'utf8')) }));
    assertLoadError(() => openModelFiles(dir), dir, /no model.safetensors or model.safetensors.index.json/);
  });

  test('readGguf on a file that is not GGUF', () => {
    assertLoadError(() => readGguf(STORIES_BIN), STORIES_BIN, /bad magic: not a GGUF file/);
  });
});

describe('broken GGUF', () => {
  const original = fs.readFileSync(STORIES_GGUF);

  test('cut inside the header', (t) => {
    const p = writeCopy(scratchDir(t), 'cut-header.gguf', original.subarray(0, 5000));
    assertLoadError(() => openModelFiles(p), p, /^truncated: .*tokenizer\.ggml\.(tokens|scores|token_type)/);
  });

  test('cut inside the tensor data', (t) => {
    const p = writeCopy(scratchDir(t), 'cut-data.gguf', original.subarray(0, 1_000_000));
    assertLoadError(() => openModelFiles(p), p, /^truncated: tensor blk\.\d+\.\w+\.weight data \[\d+, \d+\) lies outside the file \(size 1000000\)/);
  });

  test('unsupported versions', (t) => {
    const dir = scratchDir(t);
    for (const [version, problem] of [[1, /GGUF version 1 is not supported/], [4, /unsupported GGUF version 4; supported: 2, 3/]] as const) {
      const bytes = Buffer.from(original);
      bytes.writeUInt32LE(version, 4);
      const p = writeCopy(dir, `v${version}.gguf`, bytes);
      assertLoadError(() => openModelFiles(p), p, problem);
    }
  });

  test('a tensor of a type the engine cannot compute with is named with its type', (t) => {
    const bytes = Buffer.from(original);
    for (const [id, name] of [[16, 'IQ2_XXS'], [34, 'TQ1_0'], [39, 'MXFP4'], [99, 'unknown type 99']] as const) {
      bytes.writeUInt32LE(id, ggufTypeOffset(bytes, 'blk.3.ffn_up.weight', 2));
      const p = writeCopy(scratchDir(t), `type${id}.gguf`, bytes);
      assertLoadError(() => openModelFiles(p), p, new RegExp(`^tensor blk\\.3\\.ffn_up\\.weight has type ${name}, which Pensieve cannot compute; `
        + 'supported: F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, BF16$'));
    }
  });

  test('an unknown architecture', (t) => {
    const p = path.join(scratchDir(t), 'gemma.gguf');
    saveGgufModel(p, CONFIG, randomTensors(CONFIG, { seed: 1, dtype: 'f32' }));
    const bytes = fs.readFileSync(p);
    const at = bytes.indexOf(Buffer.from('llama', 'utf8'), bytes.indexOf(Buffer.from('general.architecture')));
    bytes.write('gemma', at, 'utf8');
    fs.writeFileSync(p, bytes);
    assertLoadError(() => openModelFiles(p), p, /^unsupported architecture gemma; supported: llama, qwen2, qwen3, qwen3moe, gemma2, gemma3, phi3, olmo2, smollm3$/);
  });

  test('a missing tensor is named in both GGUF and HF terms', (t) => {
    const p = path.join(scratchDir(t), 'missing.gguf');
    const bytes = fs.readFileSync(STORIES_GGUF);
    const at = bytes.indexOf(Buffer.from('blk.4.ffn_gate.weight'));
    bytes.write('blk.4.ffn_gatX', at, 'utf8');
    fs.writeFileSync(p, bytes);
    assertLoadError(() => openModelFiles(p), p, /^missing tensor blk\.4\.ffn_gate\.weight \(model\.layers\.4\.mlp\.gate_proj\.weight\); the file has tensors the llama architecture does not use: blk\.4\.ffn_gatX\.weight$/);
  });

  test('any cut or corrupted header byte gives a ModelLoadError, never a raw exception', (t) => {
    const dir = scratchDir(t);
    const headerEnd = 14176;
    let x = 99;
    const rand = (n: number): number => (x = (x * 1103515245 + 12345) >>> 0) % n;
    for (let i = 0; i < 150; i++) {
      const cut = rand(headerEnd + 50_000);
      const p = writeCopy(dir, 'cut.gguf', original.subarray(0, cut));
      assertLoadError(() => openModelFiles(p), p, /./);
    }
    for (let i = 0; i < 300; i++) {
      const bytes = Buffer.from(original);
      for (let k = 0; k < 4; k++) bytes[rand(headerEnd)] = rand(256);
      const p = writeCopy(dir, 'flip.gguf', bytes);
      try {
        openModelFiles(p).tensors.close();
      } catch (err) {
        assert.ok(err instanceof ModelLoadError, `flip #${i}: ${err instanceof Error ? err.stack : String(err)}`);
        assert.doesNotMatch(err.problem, /internal error/, `flip #${i}`);
      }
    }
  });
});

describe('broken HF directories', () => {
  function hfDir(t: { after: (fn: () => void) => void }): string {
    const dir = path.join(scratchDir(t), 'hf');
    saveHfModel(dir, CONFIG, randomTensors(CONFIG, { seed: 2, dtype: 'f32' }));
    return dir;
  }

  test('safetensors header that is not JSON', (t) => {
    const dir = hfDir(t);
    const file = path.join(dir, 'model.safetensors');
    const header = Buffer.from('{"model.norm.weight": {"dtype": "F32", ');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    fs.writeFileSync(file, Buffer.concat([len, header, Buffer.alloc(64)]));
    assertLoadError(() => openModelFiles(dir), file, /^bad safetensors header: invalid JSON/);
  });

  test('safetensors header longer than the file, and an unsupported dtype', (t) => {
    const dir = hfDir(t);
    const file = path.join(dir, 'model.safetensors');
    const bytes = fs.readFileSync(file);
    bytes.writeBigUInt64LE(BigInt(bytes.length), 0);
    fs.writeFileSync(file, bytes);
    assertLoadError(() => openModelFiles(dir), file, /^bad safetensors header: it claims \d+ bytes but the file has \d+$/);
    writeSafetensors(file, [{ name: 'model.norm.weight', dtype: 'f32', shape: [64], data: new Uint8Array(256) }]);
    const patched = fs.readFileSync(file).toString('latin1').replace('"F32"', '"I8" ');
    fs.writeFileSync(file, Buffer.from(patched, 'latin1'));
    assertLoadError(() => openModelFiles(dir), file, /^tensor model\.norm\.weight has dtype I8; supported: F32, F16, BF16$/);
  });

  test('unknown architecture in config.json', (t) => {
    const dir = hfDir(t);
    const configPath = path.join(dir, 'config.json');
    const json = JSON.parse(fs.readFileSync(configPath, 'utf8'));
    fs.writeFileSync(configPath, JSON.stringify({ ...json, architectures: ['GPT2LMHeadModel'], model_type: 'gpt2' }));
    assertLoadError(() => openModelFiles(dir), configPath, /^unsupported architecture \(GPT2LMHeadModel, model_type gpt2\)/);
    fs.writeFileSync(configPath, '{ "hidden_size": ');
    assertLoadError(() => openModelFiles(dir), configPath, /^invalid JSON/);
  });

  test('a missing tensor, and a tensor whose shape disagrees with the config', (t) => {
    const dir = hfDir(t);
    const file = path.join(dir, 'model.safetensors');
    const tensors = randomTensors(CONFIG, { seed: 3, dtype: 'f32' });
    writeSafetensors(file, tensors.filter((x) => x.name !== 'model.layers.1.mlp.up_proj.weight'));
    assertLoadError(() => openModelFiles(dir), file, /^missing tensor model\.layers\.1\.mlp\.up_proj\.weight$/);
    const wrong = randomTensors({ ...CONFIG, intermediateSize: 96 }, { seed: 3, dtype: 'f32' });
    writeSafetensors(file, wrong);
    assertLoadError(() => openModelFiles(dir), file, /^tensor model\.layers\.0\.mlp\.gate_proj\.weight has shape \[96, 256\] but the config implies \[64, 256\]$/);
  });
});

describe('broken llama2.c checkpoints', () => {
  test('a truncated .bin says how long it should be', (t) => {
    const p = writeCopy(scratchDir(t), 'cut.bin', fs.readFileSync(STORIES_BIN).subarray(0, 500_000));
    assertLoadError(() => openModelFiles(p), p, /^truncated: llama2\.c v0 header implies 1056540 bytes but the file has 500000$/);
  });

  test('a quantized (version 2) export is refused by version', (t) => {
    const bytes = Buffer.alloc(512);
    bytes.writeUInt32LE(0x616b3432, 0);
    bytes.writeInt32LE(2, 4);
    const p = writeCopy(scratchDir(t), 'q80.bin', bytes);
    assertLoadError(() => openModelFiles(p), p, /version 2 is not supported/);
  });
});
