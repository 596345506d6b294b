// The prompt worker: a thread of its own that turns large prompts into tokens, so that
// rendering and tokenizing a long paste (seconds of merge work for a few hundred KiB) never
// stalls the engine loop and the requests it is decoding. It loads the tokenizer and chat
// template only (no weights) and answers each prompt with its tokens or a refusal; the
// EngineClient then hands the tokens to the engine worker.
import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { loadPromptFiles } from '../model/load.js';
import { maxInputBytesPerToken } from '../model/tokenizer/token-bound.js';
import { tokenPiece } from '../model/tokenizer/token-bytes.js';
import { buildPrompt, checkIds, type PromptModel } from './prompt.js';
import type { EngineWorkerOptions, FromPromptWorker, ToPromptWorker } from './protocol.js';

const port = parentPort!;
const options = workerData as EngineWorkerOptions;
const post = (msg: FromPromptWorker) => port.postMessage(msg);

/** What this thread holds: its heap and external memory (prompt-thread.ts replaces a thread that grew). */
function heapBytes(): number {
  const h = getHeapStatistics();
  return h.total_heap_size + h.external_memory;
}

let model: PromptModel;
try {
  const files = loadPromptFiles(options.model, { tokenizer: options.tokenizer, chatTemplate: options.chatTemplate });
  model = { ...files, maxBytesPerToken: maxInputBytesPerToken(files.tokenizer) };
} catch (err) {
  post({ type: 'fatal', message: (err as Error).message });
  throw err;
}

port.on('message', (msg: ToPromptWorker) => {
  try {
    if (msg.type === 'decode') {
      checkIds(msg.tokens, model.vocabSize, 'tokens');
      post({ type: 'decoded', id: msg.id, text: model.tokenizer.decode(msg.tokens), heapBytes: heapBytes() });
      return;
    }
    const { tokens, text } = buildPrompt(model, msg.prompt, msg.contextLength);
    const pieces = msg.pieces ? tokens.map((t) => tokenPiece(model.tokenizer, t).text) : undefined;
    post({ type: 'encoded', id: msg.id, tokens, text, pieces, heapBytes: heapBytes() });
  } catch (err) {
    const e = err as Error & { param?: string | null; code?: string | null };
    post({ type: 'rejected', id: msg.id, message: e.message, param: e.param ?? null, code: e.code ?? null, heapBytes: heapBytes() });
  }
});
post({ type: 'ready', heapBytes: heapBytes() });
