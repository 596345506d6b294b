// `pensieve chat` with an in-process engine: each line is a turn of one
// conversation, /reset starts another, /exit leaves.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { CLI, MODELS } from '../helpers/paths.js';

function chat(input: string, dataDir: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      [CLI, 'chat', '--model', path.join(MODELS, 'stories260K', 'stories260K.gguf'), '--data-dir', dataDir, '--temperature', '0', '--max-tokens', '8'],
      { timeout: 60000 },
      (err, stdout) => (err ? reject(err) : resolve(stdout)),
    );
    child.stdin!.end(input);
  });
}

test('a chat session answers every line and continues the same conversation', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pensieve-chat-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const out = await chat('Hi there\nWhat next?\n/reset\nHi there\n/exit\n', dir);
  const replies = out.split('> ').slice(1).map((r) => r.trim()).filter(Boolean);
  assert.equal(replies.length, 3, out);
  // After /reset the same first line gets the same (greedy) first reply.
  assert.equal(replies[2], replies[0]);
});
