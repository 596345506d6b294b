// Killing the server (SIGKILL) between turns loses no committed turn: a new
// server on the same data directory continues the conversation with the same
// greedy output as a server that never died.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import OpenAI from 'openai';
import { MODELS } from '../helpers/paths.js';
import { startServer, stopServer } from '../helpers/serve.js';

const MODEL = path.join(MODELS, 'stories260K', 'stories260K.gguf');
const INPUTS = ['Tom had a little dog.', 'The dog liked to run.', 'One day it rained.', 'Tom was sad.'];

async function say(client: OpenAI, input: string, previous: string | undefined) {
  const r = await client.responses.create({ model: 'stories260K', input, previous_response_id: previous, max_output_tokens: 12, temperature: 0 });
  return { id: r.id, text: r.output_text };
}

test('a conversation survives SIGKILL of the server and continues with the same output', async (t) => {
  const dirA = fs.mkdtempSync(path.join(os.tmpdir(), 'pensieve-restart-'));
  const dirB = fs.mkdtempSync(path.join(os.tmpdir(), 'pensieve-restart-'));
  t.after(() => {
    fs.rmSync(dirA, { recursive: true, force: true });
    fs.rmSync(dirB, { recursive: true, force: true });
  });

  // The reference: one server, all turns.
  const ref = await startServer(['--model', MODEL, '--data-dir', dirA]);
  const expected: string[] = [];
  try {
    const c = new OpenAI({ baseURL: ref.baseURL, apiKey: 'none' });
    let prev: string | undefined;
    for (const input of INPUTS) {
      const r = await say(c, input, prev);
      expected.push(r.text);
      prev = r.id;
    }
  } finally {
    await stopServer(ref);
  }

  // Two turns, SIGKILL, then the rest on a new server over the same data directory.
  const first = await startServer(['--model', MODEL, '--data-dir', dirB]);
  const got: string[] = [];
  let prev: string | undefined;
  try {
    const c = new OpenAI({ baseURL: first.baseURL, apiKey: 'none' });
    for (const input of INPUTS.slice(0, 2)) {
      const r = await say(c, input, prev);
      got.push(r.text);
      prev = r.id;
    }
  } finally {
    await stopServer(first, 'SIGKILL');
  }
  const second = await startServer(['--model', MODEL, '--data-dir', dirB]);
  try {
    const c = new OpenAI({ baseURL: second.baseURL, apiKey: 'none' });
    const stored = await c.responses.retrieve(prev!);
    assert.equal(stored.output_text, got[1], 'the committed turn is there after the restart');
    for (const input of INPUTS.slice(2)) {
      const r = await say(c, input, prev);
      got.push(r.text);
      prev = r.id;
    }
  } finally {
    await stopServer(second);
  }
  assert.deepEqual(got, expected);
});

test('SIGTERM shuts the server down cleanly', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pensieve-term-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const s = await startServer(['--model', MODEL, '--data-dir', dir]);
  assert.equal(await stopServer(s, 'SIGTERM'), 0);
  assert.match(s.stderr(), /shutting down/);
});
