// Where the benchmark finds the repository, the CLI and the read-only shared material.
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const SHARED = path.resolve(REPO_ROOT, '..', 'shared');
export const DATA = path.join(SHARED, 'data');
export const CLI = path.join(REPO_ROOT, 'bin', 'pensieve.js');
/** node-llama-cpp lives here, outside the engine's dependencies (shared with other benchmarks). */
export const LLAMA_CPP_DIR = path.join(REPO_ROOT, 'bench', 'llama-cpp');
