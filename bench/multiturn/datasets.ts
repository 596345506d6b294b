// Readers for the real conversation data in ../shared/data (see its README): HH-RLHF
// dialogues (gzip'd JSONL transcripts), MT-Bench's two-turn questions with GPT-4 reference
// answers, and ShareGPT first human turns. Each becomes plain user/assistant messages.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DATA } from './paths.js';

export interface DialogueMessage {
  role: 'user' | 'assistant';
  text: string;
}

export interface Dialogue {
  id: string;
  messages: DialogueMessage[];
}

const cache = new Map<string, unknown>();

function memo<T>(key: string, load: () => T): T {
  if (!cache.has(key)) cache.set(key, load());
  return cache.get(key) as T;
}

/**
 * HH-RLHF harmless-base test dialogues, from their `chosen` transcripts split on
 * "\n\nHuman: " / "\n\nAssistant: " (every dialogue starts with Human, ends with Assistant).
 */
export function hhRlhfDialogues(dataDir = DATA): Dialogue[] {
  return memo(`hh:${dataDir}`, () => {
    const file = path.join(dataDir, 'hh-rlhf', 'harmless-base-test.jsonl.gz');
    const lines = gunzipSync(fs.readFileSync(file)).toString('utf8').split('\n').filter((l) => l.trim() !== '');
    return lines.map((line, i) => {
      const transcript = (JSON.parse(line) as { chosen: string }).chosen;
      const parts = transcript.split(/\n\n(Human|Assistant): /);
      const messages: DialogueMessage[] = [];
      for (let p = 1; p + 1 < parts.length; p += 2) {
        messages.push({ role: parts[p] === 'Human' ? 'user' : 'assistant', text: parts[p + 1]!.trim() });
      }
      return { id: `hh-${i}`, messages };
    });
  });
}

/**
 * MT-Bench's 80 two-turn questions. The 30 with GPT-4 reference answers carry them as the
 * assistant messages; the others have user messages only.
 */
export function mtBenchDialogues(dataDir = DATA): Dialogue[] {
  return memo(`mt:${dataDir}`, () => {
    const read = (name: string) =>
      fs.readFileSync(path.join(dataDir, 'mt_bench', name), 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as unknown);
    const answers = new Map<number, string[]>();
    for (const a of read('reference_answer_gpt-4.jsonl') as { question_id: number; choices: { turns: string[] }[] }[]) {
      answers.set(a.question_id, a.choices[0]?.turns ?? []);
    }
    return (read('question.jsonl') as { question_id: number; turns: string[] }[]).map((q) => {
      const replies = answers.get(q.question_id);
      const messages: DialogueMessage[] = [];
      q.turns.forEach((text, t) => {
        messages.push({ role: 'user', text });
        const reply = replies?.[t];
        if (reply !== undefined) messages.push({ role: 'assistant', text: reply });
      });
      return { id: `mt-${q.question_id}`, messages };
    });
  });
}

/** The 500 ShareGPT first human turns (prompt text for the synthetic workload). */
export function shareGptPrompts(dataDir = DATA): string[] {
  return memo(`sg:${dataDir}`, () => {
    const file = path.join(dataDir, 'sharegpt', 'ShareGPT_V3_filtered_500.json');
    const records = JSON.parse(fs.readFileSync(file, 'utf8')) as { conversations: { from: string; value: string }[] }[];
    return records.map((r) => r.conversations.find((c) => c.from === 'human')?.value.trim() ?? '').filter((t) => t !== '');
  });
}
