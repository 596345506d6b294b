// Starting one of this directory's TypeScript modules on a worker thread: the thread registers
// tsx's loader before importing the module (both resolved from here, so any working directory
// works). That costs a few hundred ms of CPU per thread, which is why the threads live long.

import { Worker } from 'node:worker_threads';
import type { EngineWorkerOptions } from './protocol.js';

export function startWorker(file: string, options: EngineWorkerOptions): Worker {
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const entry = JSON.stringify(new URL(file, import.meta.url).href);
  return new Worker(`import(${tsx}).then((m) => { m.register(); return import(${entry}); })`, { eval: true, workerData: options });
}
