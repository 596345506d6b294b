// The benchmark's default model: random weights in a real model's shape (a config from
// ../shared/models/configs) with a real vocabulary and chat template, made once by
// `pensieve make-model` into .pensieve/bench/ (gitignored; the kernel benchmark keeps its
// models there too). Pensieve and llama.cpp load the very same GGUF file.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLI, REPO_ROOT, SHARED } from './paths.js';

// SmolLM2-135M: a real shape small enough that a whole rate sweep of four systems takes
// minutes on two cores (Qwen2.5-0.5B via --model-config is 4× the work per token).
export const DEFAULT_CONFIG = path.join(SHARED, 'models', 'configs', 'SmolLM2-135M.json');

/**
 * The bench model of `config`'s shape: a GGUF, or a Hugging Face directory for a family with no
 * GGUF form (OPT: llama.cpp has no such architecture, so only Pensieve's systems can serve it).
 */
export function ensureBenchModel(opts: { config?: string; dtype?: 'bf16' | 'q8_0' | 'f32'; log?: (line: string) => void } = {}): string {
  const config = opts.config ?? DEFAULT_CONFIG;
  const dtype = opts.dtype ?? 'bf16';
  const noGguf = hasNoGgufForm(config);
  const file = path.join(REPO_ROOT, '.pensieve', 'bench', `${path.basename(config, '.json')}-${dtype}${noGguf ? '' : '.gguf'}`);
  if (!fs.existsSync(file)) {
    opts.log?.(`making ${file} (pensieve make-model)`);
    execFileSync(process.execPath, [CLI, 'make-model', '--config', config, '--dtype', dtype, '--out', file], { stdio: ['ignore', 'inherit', 'inherit'] });
  }
  return file;
}

/** Whether the config is of a family llama.cpp cannot run (so the model is saved as safetensors). */
export function hasNoGgufForm(config: string): boolean {
  const json = JSON.parse(fs.readFileSync(config, 'utf8')) as { model_type?: unknown };
  return json.model_type === 'opt';
}
