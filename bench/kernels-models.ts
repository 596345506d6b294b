// The GGUF files bench/kernels.ts runs both engines on, cached under .pensieve/bench/: a bf16 model
// of a real config's shape from `pensieve make-model` (random weights, real vocabulary), and every
// quantized type made from it by llama.cpp's `llama-quantize` (issue 12: the mixes users download,
// e.g. Q4_K_M, are llama-quantize's). A sidecar .json says how each file was made; a file whose
// sidecar does not match (another source, another llama.cpp commit) is made again.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readGguf } from '../src/model/formats/gguf.js';
import type { LlamaCppBuild } from './llama-cpp/build.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

export interface BenchModel {
  format: string;
  path: string;
  fileBytes: number;
  /** How it was made, for the report ("pensieve make-model --dtype bf16", "llama-quantize Q4_K_M (b1234abcd)"). */
  madeBy: string;
}

/** A format the bench takes: bf16 (made directly) or any llama-quantize type, in lower case (q4_k_m, q4_0, q8_0, ...). */
export function checkFormat(format: string): string {
  if (!/^[a-z0-9_]+$/.test(format)) throw new Error(`--formats: '${format}' is not a type name such as bf16, q8_0, q4_k_m, q4_0`);
  return format;
}

interface Sidecar { madeBy: string; source: string; sourceBytes: number; sourceMtime: number }

function cached(path: string, want: Sidecar): boolean {
  try {
    const got = JSON.parse(fs.readFileSync(`${path}.json`, 'utf8')) as Sidecar;
    return fs.existsSync(path) && got.madeBy === want.madeBy && got.source === want.source &&
      got.sourceBytes === want.sourceBytes && got.sourceMtime === want.sourceMtime;
  } catch {
    return false;
  }
}

function sourceOf(path: string, madeBy: string): Sidecar {
  const st = fs.existsSync(path) ? fs.statSync(path) : undefined;
  return { madeBy, source: path, sourceBytes: st?.size ?? 0, sourceMtime: st?.mtimeMs ?? 0 };
}

function done(format: string, path: string, want: Sidecar): BenchModel {
  fs.writeFileSync(`${path}.json`, `${JSON.stringify(want, null, 2)}\n`);
  return { format, path, fileBytes: fs.statSync(path).size, madeBy: want.madeBy };
}

function makeModel(configPath: string, dtype: 'bf16' | 'q8_0', out: string, log: (line: string) => void): BenchModel {
  const want = sourceOf(configPath, `pensieve make-model --dtype ${dtype}`);
  if (cached(out, want)) return { format: dtype, path: out, fileBytes: fs.statSync(out).size, madeBy: want.madeBy };
  log(`making ${out} (pensieve make-model --dtype ${dtype}) ...`);
  fs.mkdirSync(`${ROOT}.pensieve/bench`, { recursive: true });
  execFileSync(process.execPath, [`${ROOT}bin/pensieve.js`, 'make-model', '--config', configPath, '--dtype', dtype, '--out', out], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return done(dtype, out, want);
}

/**
 * The model file for `format`. Quantized types need llama-quantize; without a llama.cpp build
 * only bf16 and (through make-model's own q8_0 writer, as before issue 12) q8_0 can be made.
 */
export function benchModel(format: string, configPath: string, llama: LlamaCppBuild | null, log: (line: string) => void): BenchModel {
  const name = configPath.split('/').pop()!.replace(/\.json$/, '');
  const file = (f: string) => `${ROOT}.pensieve/bench/${name}-${f}.gguf`;
  const bf16 = makeModel(configPath, 'bf16', file('bf16'), log);
  if (format === 'bf16') return bf16;
  if (!llama) {
    if (format === 'q8_0') return makeModel(configPath, 'q8_0', file('q8_0'), log);
    throw new Error(`${format} is made by llama-quantize, and llama.cpp is not built`);
  }
  const type = format.toUpperCase();
  const out = file(format);
  const want = sourceOf(bf16.path, `llama-quantize ${type} (llama.cpp ${llama.commit.slice(0, 10)})`);
  if (cached(out, want)) return { format, path: out, fileBytes: fs.statSync(out).size, madeBy: want.madeBy };
  log(`making ${out} (llama-quantize ${type}) ...`);
  try {
    execFileSync(llama.bin('llama-quantize'), [bf16.path, out, type], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  } catch (err) {
    fs.rmSync(out, { force: true });
    const e = err as { stdout?: string; stderr?: string; message: string };
    const tail = `${e.stdout ?? ''}\n${e.stderr ?? ''}`.trim().split('\n').slice(-3).join(' | ');
    throw new Error(`llama-quantize ${type} failed: ${tail || e.message}`);
  }
  return done(format, out, want);
}

/**
 * Bytes of the file's tensor data (what one decode token streams: a tied embedding is read whole
 * as the classifier), or the file size where Pensieve's reader cannot parse the file (a type it
 * does not know yet): an overestimate by the metadata, about 2% for the Qwen2.5 vocabulary.
 */
export function tensorBytes(path: string): TensorBytes {
  const size = fs.statSync(path).size;
  try {
    const g = readGguf(path);
    g.tensors.close();
    return { bytes: size - g.dataOffset, source: 'gguf' };
  } catch {
    return { bytes: size, source: 'file size' };
  }
}

/** Bytes of a model's tensors, and who counted them (llama.cpp's llama-bench reports its own count). */
export interface TensorBytes { bytes: number; source: 'gguf' | 'llama.cpp' | 'file size' }
