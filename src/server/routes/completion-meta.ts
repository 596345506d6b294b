// What every chat and text completion object (and each of their stream chunks) starts with —
// id, created, model — and the finish reason both report.

import { randomBytes } from 'node:crypto';
import type { GenerationResult } from '../generation.js';

export interface CompletionMeta {
  id: string;
  created: number;
  model: string;
}

export function completionMeta(idPrefix: 'chatcmpl' | 'cmpl', model: string): CompletionMeta {
  return { id: `${idPrefix}-${randomBytes(12).toString('hex')}`, created: Math.floor(Date.now() / 1000), model };
}

/** An aborted request has no client left to tell, so only 'stop' and 'length' are ever reported. */
export function finishReason(result: GenerationResult): 'stop' | 'length' {
  return result.finishReason === 'length' ? 'length' : 'stop';
}
