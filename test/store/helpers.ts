// Shared fixtures for the store tests: a store in a fresh temp dir, and items and response
// objects shaped like the ones the engine will hand in.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../../src/store/index.js';
import type { NewItem, ResponseObject } from '../../src/store/index.js';

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'pensieve-store-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs `fn` on a store in a fresh temp dir, closing and removing it afterwards. */
export function withStore<T>(fn: (store: Store, dir: string) => T): T {
  const { dir, cleanup } = tempDir();
  const store = Store.open(dir);
  try {
    return fn(store, dir);
  } finally {
    store.close();
    cleanup();
  }
}

export function userMessage(text: string, id?: string): NewItem {
  return { type: 'message', role: 'user', content: [{ type: 'input_text', text }], ...(id === undefined ? {} : { id }) };
}

export function assistantMessage(text: string, id?: string): NewItem {
  return {
    type: 'message',
    role: 'assistant',
    content: [{ type: 'output_text', text, annotations: [] }],
    ...(id === undefined ? {} : { id }),
  };
}

export function responseObject(fields: {
  id: string;
  previous?: string;
  conversation?: string;
  text?: string;
  createdAt?: number;
}): ResponseObject {
  return {
    id: fields.id,
    object: 'response',
    created_at: fields.createdAt ?? 1_700_000_000,
    status: 'completed',
    model: 'test-model',
    previous_response_id: fields.previous ?? null,
    conversation: fields.conversation === undefined ? null : { id: fields.conversation },
    instructions: 'Be brief.',
    output: [
      {
        type: 'message',
        id: `msg_out_${fields.id}`,
        role: 'assistant',
        content: [{ type: 'output_text', text: fields.text ?? `reply of ${fields.id}`, annotations: [] }],
        status: 'completed',
      },
    ],
    usage: {
      input_tokens: 10,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: 5,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 15,
    },
    temperature: 0.7,
    tools: [],
  };
}

export function tokenRange(n: number, start = 0): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => start + i);
}
