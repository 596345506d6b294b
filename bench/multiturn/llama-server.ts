// llama.cpp's own server as a system of the comparison: `llama-server` built for this CPU from
// the source node-llama-cpp carries (bench/llama-cpp/build.ts, cached under .pensieve/), given the
// same model file, threads and KV token budget as Pensieve, with its prompt cache on: one unified
// KV for all slots (--kv-unified), prompt states kept in host memory (--cache-ram, the same budget
// as Pensieve's host tier) and reused by its slots. Its clients resend the history through its
// /v1/chat/completions, which is how it is used.

import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { freePort } from '../../test/helpers/free-port.js';
import { ensureLlamaCppBuild } from '../llama-cpp/build.js';

export interface LlamaServerSetup {
  model: string;
  /** Slots (-np): conversations decoded at once. */
  slots: number;
  /** The KV cache of all slots together, in tokens (-c, shared by the slots with --kv-unified). */
  kvTokens: number;
  threads: number;
  /** Host memory for its prompt cache (--cache-ram), in MiB; 0 turns it off. */
  cacheRamMiB: number;
  extraArgs: string[];
  logFile: string;
  log: (line: string) => void;
}

export interface LlamaServerProcess {
  origin: string;
  /** The command line and the build's version, for the report. */
  description: string;
  stop(): Promise<void>;
}

/** The flags the bench starts it with; extraArgs come last, so they override. */
export function llamaServerArgs(s: Omit<LlamaServerSetup, 'log' | 'logFile'>, port: number): string[] {
  return [
    '--model', s.model, '--host', '127.0.0.1', '--port', String(port),
    '--threads', String(s.threads), '--threads-batch', String(s.threads),
    '--parallel', String(s.slots), '--ctx-size', String(s.kvTokens), '--kv-unified',
    '--cache-ram', String(s.cacheRamMiB), '--jinja', '--metrics', '--no-webui',
    ...s.extraArgs,
  ];
}

export async function startLlamaServer(setup: LlamaServerSetup): Promise<LlamaServerProcess> {
  const build = await ensureLlamaCppBuild(setup.log);
  const bin = build.bin('llama-server');
  // It prints its version on stderr.
  const printed = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  const version = `${printed.stdout}\n${printed.stderr}`.split('\n').find((l) => l.startsWith('version'))?.trim() ?? `commit ${build.commit}`;
  const port = await freePort();
  const args = llamaServerArgs(setup, port);
  const log = fs.createWriteStream(setup.logFile, { flags: 'a' });
  log.write(`$ ${bin} ${args.join(' ')}\n`);
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  const origin = `http://127.0.0.1:${port}`;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await waitHealthy(origin, exited, 300_000);
  return {
    origin,
    description: `llama-server ${version} (${build.tag}, ${build.cmakeFlags.join(' ')}): ${withoutRunValues(args).join(' ')}`,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
        child.kill('SIGTERM');
        await exited;
        clearTimeout(kill);
      }
      log.end();
    },
  };
}

/** The flags without the model path and port (the same for every run of a report, or meaningless). */
function withoutRunValues(args: readonly string[]): string[] {
  return args.filter((a, i) => a !== '--model' && a !== '--port' && args[i - 1] !== '--model' && args[i - 1] !== '--port');
}

/** llama-server listens before its model is loaded and answers /health 503 until it is. */
async function waitHealthy(origin: string, exited: Promise<number | null>, timeoutMs: number): Promise<void> {
  let code: number | null | undefined;
  void exited.then((c) => (code = c));
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (code !== undefined) throw new Error(`llama-server exited with ${code} before it was ready (see its log)`);
    try {
      if ((await fetch(`${origin}/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`llama-server was not ready within ${timeoutMs / 1000} s`);
}
