// node-llama-cpp for the llama.cpp baseline, kept out of the engine's dependencies: installed on
// demand into bench/llama-cpp/ (its own package.json, gitignored node_modules), a folder other
// benchmarks may share. Only the few calls the adapter makes are typed here.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { LLAMA_CPP_DIR } from './paths.js';

const PACKAGE = 'node-llama-cpp';
const VERSION = '3.22.1';

function packageDir(dir: string): string {
  return path.join(dir, 'node_modules', PACKAGE);
}

export function llamaCppInstalled(dir = LLAMA_CPP_DIR): boolean {
  return fs.existsSync(path.join(packageDir(dir), 'package.json'));
}

/**
 * Installs node-llama-cpp (with its prebuilt CPU binaries) into `dir`, keeping a package.json
 * that is already there (another benchmark's) and adding ours only when it lacks the package.
 */
export function installLlamaCpp(log: (line: string) => void, dir = LLAMA_CPP_DIR): void {
  if (llamaCppInstalled(dir)) return;
  fs.mkdirSync(dir, { recursive: true });
  const manifest = path.join(dir, 'package.json');
  const pkg: { dependencies?: Record<string, string>; [key: string]: unknown } = fs.existsSync(manifest)
    ? (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { dependencies?: Record<string, string> })
    : { name: 'pensieve-bench-llama-cpp', private: true, type: 'module', description: 'llama.cpp (node-llama-cpp) for benchmark baselines; not a dependency of the engine' };
  if (pkg.dependencies?.[PACKAGE] === undefined) {
    pkg.dependencies = { ...pkg.dependencies, [PACKAGE]: VERSION };
    fs.writeFileSync(manifest, JSON.stringify(pkg, null, 2) + '\n');
  }
  log(`installing ${PACKAGE} into ${dir} (npm install)`);
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--no-package-lock'], { cwd: dir, stdio: ['ignore', 'inherit', 'inherit'] });
}

// The slice of node-llama-cpp's API the adapter uses.
export type Token = number;

export interface LlamaSequence {
  readonly nextTokenIndex: number;
  compareContextTokens(tokens: Token[]): { firstDifferentIndex: number };
  eraseContextTokenRanges(ranges: { start: number; end: number }[]): Promise<void>;
  evaluate(tokens: Token[], options?: { temperature?: number; topP?: number; topK?: number; minP?: number; seed?: number }): AsyncGenerator<Token, void, void>;
}

export interface LlamaModel {
  readonly fileInfo: { metadata: { tokenizer?: { chat_template?: string } } };
  readonly tokens: { bos: Token | null; bosString: string | null; eosString: string | null; shouldPrependBosToken: boolean };
  tokenize(text: string, specialTokens?: boolean): Token[];
  detokenize(tokens: readonly Token[]): string;
  isEogToken(token: Token | undefined): boolean;
}

export interface LlamaContext {
  readonly contextSize: number;
  getSequence(): LlamaSequence;
}

export interface NodeLlamaCpp {
  getLlama(options: { gpu: false; build: 'never'; logLevel?: string }): Promise<{
    loadModel(options: { modelPath: string }): Promise<LlamaModel & {
      createContext(options: { sequences: number; contextSize: number; batchSize: number; threads: number }): Promise<LlamaContext>;
    }>;
  }>;
}

export async function importNodeLlamaCpp(dir = LLAMA_CPP_DIR): Promise<NodeLlamaCpp> {
  if (!llamaCppInstalled(dir)) throw new Error(`${PACKAGE} is not installed in ${dir}`);
  const pkg = JSON.parse(fs.readFileSync(path.join(packageDir(dir), 'package.json'), 'utf8')) as { exports: { '.': { import: string } } };
  return (await import(pathToFileURL(path.join(packageDir(dir), pkg.exports['.'].import)).href)) as NodeLlamaCpp;
}
