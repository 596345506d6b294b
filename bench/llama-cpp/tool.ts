// Our small C++ reference tools (tokenize.cpp, logits.cpp) compiled against a llama.cpp build's
// libllama, for the scripts that write reference fixtures; and the commit they were built from.
import { execFileSync } from 'node:child_process';
import * as nodePath from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(new URL('.', import.meta.url));

/** Compiles bench/llama-cpp/<source> against `llamaDir`'s build into `out`; returns `out`. */
export function compileLlamaTool(llamaDir: string, source: 'tokenize.cpp' | 'logits.cpp', out: string): string {
  const bin = nodePath.join(llamaDir, 'build/bin');
  execFileSync('g++', [
    '-O2', '-std=c++17', `-I${llamaDir}/include`, `-I${llamaDir}/ggml/include`, nodePath.join(HERE, source),
    `-L${bin}`, '-lllama', '-lggml', '-lggml-base', `-Wl,-rpath,${bin}`, '-o', out,
  ], { stdio: 'inherit' });
  return out;
}

/** The llama.cpp checkout's commit, for the fixtures' provenance. */
export function llamaCommit(llamaDir: string): string {
  return execFileSync('git', ['-C', llamaDir, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
}
