// node-llama-cpp in bench/kernels.ts: its package carries the llama.cpp source that
// bench/llama-cpp/build.ts builds for this CPU (the bench's llama.cpp column), and its prebuilt
// generic CPU binary is the optional `--prebuilt` column. It is installed into bench/llama-cpp/
// (its own package.json; not a dependency of the engine) on first use, and the prebuilt binary is
// loaded from there with getLlama({gpu: false, build: 'never'}): nothing is compiled by it.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { EngineUnderTest } from './kernels-types.js';

const DIR = fileURLToPath(new URL('./llama-cpp/', import.meta.url));
const ENTRY = `${DIR}node_modules/node-llama-cpp/dist/index.js`;

/** Installs node-llama-cpp (with only the linux-x64 CPU binary) into bench/llama-cpp/ unless it is there. */
export function installLlamaCpp(log: (line: string) => void): void {
  if (fs.existsSync(ENTRY)) return;
  log('installing node-llama-cpp into bench/llama-cpp/ (prebuilt CPU binary only) ...');
  // --omit=optional skips the CUDA/Vulkan builds; the CPU one is a direct dependency there.
  execFileSync('npm', ['install', '--omit=optional', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], {
    cwd: DIR, stdio: ['ignore', 'ignore', 'inherit'],
  });
}

// node-llama-cpp's types are not ours to depend on: the few calls used here.
interface LlamaSequence {
  clearHistory(): Promise<void>;
  evaluateWithoutGeneratingNewTokens(tokens: number[]): Promise<void>;
  evaluate(tokens: number[]): AsyncGenerator<number, void, void>;
}
interface LlamaContext {
  getSequence(): LlamaSequence;
  dispose(): Promise<void>;
}
interface LlamaModel {
  createContext(o: object): Promise<LlamaContext>;
  dispose(): Promise<void>;
}
interface Llama {
  loadModel(o: object): Promise<LlamaModel>;
  readonly systemInfo: string;
  dispose(): Promise<void>;
}

let llamaPromise: Promise<Llama> | undefined;
async function llama(): Promise<Llama> {
  llamaPromise ??= import(pathToFileURL(ENTRY).href).then((m: { getLlama(o: object): Promise<Llama> }) =>
    m.getLlama({ gpu: false, build: 'never', logLevel: 'error', progressLogs: false }),
  );
  return llamaPromise;
}

export async function llamaSystemInfo(): Promise<string> {
  return (await llama()).systemInfo.trim();
}

export async function loadLlamaCpp(path: string, threads: number, maxContext: number, vocabSize = 30100): Promise<EngineUnderTest> {
  const model = await (await llama()).loadModel({ modelPath: path, useMmap: true });
  // The same token ids as bench/kernels-ours.ts gives Pensieve.
  const spread = Math.min(30000, vocabSize - 100);
  const promptOf = (n: number, salt: number) => Array.from({ length: n }, (_, i) => 100 + ((i * 7919 + salt * 31) % spread));
  // One context for prompts, one per batch width (its sequences share one KV cache and one batch).
  const single = await model.createContext({ contextSize: maxContext, batchSize: 512, threads, sequences: 1 });
  const prefillSeq = single.getSequence();
  const batched = new Map<number, { ctx: LlamaContext; seqs: LlamaSequence[] }>();

  return {
    name: 'llama.cpp',
    async prefill(n) {
      await prefillSeq.clearHistory();
      const tokens = promptOf(n, 0);
      const t0 = performance.now();
      await prefillSeq.evaluateWithoutGeneratingNewTokens(tokens);
      return (performance.now() - t0) / 1000;
    },
    async batchedDecode(sequences, context, steps) {
      let entry = sequences === 1 ? { ctx: single, seqs: [prefillSeq] } : batched.get(sequences);
      if (!entry) {
        const ctx = await model.createContext({ contextSize: sequences * (context + steps + 64), batchSize: 512, threads, sequences });
        entry = { ctx, seqs: Array.from({ length: sequences }, () => ctx.getSequence()) };
        batched.set(sequences, entry);
      }
      const seqs = entry.seqs;
      await Promise.all(seqs.map(async (s, i) => {
        await s.clearHistory();
        await s.evaluateWithoutGeneratingNewTokens(promptOf(context, i));
      }));
      // Each sequence generates steps + 1 tokens; node-llama-cpp batches the sequences' pending
      // evaluations into one llama_decode. The first token of each (its last prompt token's
      // evaluation) is excluded from the timing by starting the clock once all have yielded one.
      let started = 0;
      let t0 = 0;
      let startAll!: () => void;
      const allStarted = new Promise<void>((resolve) => (startAll = resolve));
      await Promise.all(seqs.map(async (s, i) => {
        let n = 0;
        for await (const _ of s.evaluate([promptOf(1, i + 7)[0]!])) {
          if (n++ === 0) {
            if (++started === seqs.length) {
              t0 = performance.now();
              startAll();
            }
            await allStarted;
          }
          if (n > steps) break;
        }
      }));
      return (steps * seqs.length) / ((performance.now() - t0) / 1000);
    },
    async close() {
      for (const { ctx } of batched.values()) await ctx.dispose();
      await single.dispose();
      await model.dispose();
    },
  };
}
