// `pensieve chat` driven as a user would, through a child process with piped stdin and an
// in-process engine (stories260K, context 2048): each line is a turn of one conversation,
// the commands, and what must not end the session — errors, Ctrl-C during a reply, a
// conversation longer than the context.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { CLI, MODELS } from '../helpers/paths.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pensieve-chat-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
let sessions = 0;

class Chat {
  readonly child: ChildProcess;
  out = '';
  err = '';
  readonly exited: Promise<number | null>;

  constructor(args: string[]) {
    const dataDir = path.join(dir, `session-${++sessions}`);
    const model = path.join(MODELS, 'stories260K', 'stories260K.gguf');
    this.child = spawn(process.execPath, [CLI, 'chat', '--model', model, '--data-dir', dataDir, '--temperature', '0', ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (d: Buffer) => (this.out += d.toString()));
    this.child.stderr!.on('data', (d: Buffer) => (this.err += d.toString()));
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  send(line: string): void {
    this.child.stdin!.write(`${line}\n`);
  }

  /** Waits until stdout (from `from` on) matches; fails with the output so far after 60 s. */
  waitFor(pattern: RegExp, from = 0): Promise<void> {
    return this.until(() => pattern.test(this.out.slice(from)), String(pattern));
  }

  async until(done: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 60000;
    while (!done()) {
      if (this.child.exitCode !== null) assert.fail(`chat exited (${this.child.exitCode}) before ${what}:\n${this.out}\n${this.err}`);
      if (Date.now() > deadline) assert.fail(`no ${what} in:\n${this.out}\n${this.err}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Prompts shown so far (each follows a newline). */
  prompts(): number {
    return this.out.split('\n> ').length - 1;
  }
}

/** The replies in a transcript: the text after each prompt, without command output. */
function replies(out: string): string[] {
  return out.split('> ').slice(1).map((r) => r.trim()).filter((r) => r !== '' && !r.startsWith('('));
}

test('every line is a turn of one conversation; /help, /reset (confirmed), unknown commands, /exit', async () => {
  const chat = new Chat(['--max-tokens', '8']);
  for (const line of ['Hi there', 'What next?', '/help', '/reset', 'n', '/frobnicate', '/reset', 'yes', 'Hi there', '/exit']) chat.send(line);
  assert.equal(await chat.exited, 0, chat.err);
  assert.match(chat.out, /\/help +this list/);
  assert.match(chat.out, /start a new conversation and forget this one \(2 turns\)\? \[y\/N\]/);
  assert.match(chat.out, /\(kept the conversation\)/);
  assert.match(chat.out, /unknown command \/frobnicate/);
  assert.match(chat.out, /\(new conversation\)/);
  const said = replies(chat.out).filter((r) => !r.startsWith('commands:') && !r.startsWith('start a new') && !r.startsWith('unknown'));
  assert.equal(said.length, 3, chat.out);
  // After /reset the same first line gets the same (greedy) first reply.
  assert.equal(said[2], said[0]);
});

test('Ctrl-C stops a reply, not the session; twice at the prompt it leaves', async () => {
  const chat = new Chat(['--max-tokens', '2000']);
  await chat.waitFor(/> $/);
  chat.send('Once upon a time');
  const start = chat.out.length;
  await chat.waitFor(/\S{3}/, start); // the reply is streaming
  chat.child.kill('SIGINT');
  await chat.waitFor(/\[interrupted\]\n> $/, start);
  assert.ok(chat.out.length - start < 4000, 'the interrupted reply is far from 2000 tokens');
  const next = chat.out.length;
  chat.send('Hello');
  await chat.waitFor(/\S+[^]*\n> $/, next);
  chat.child.kill('SIGINT');
  await chat.waitFor(/Ctrl-C again to leave/, next);
  chat.child.kill('SIGINT');
  assert.equal(await chat.exited, 0, chat.err);
});

test('an error is printed and the session goes on; a conversation past the context is trimmed, and told', async () => {
  const chat = new Chat(['--max-tokens', '8']);
  // Long messages, short replies: about 500 tokens a turn against a 2048-token context, so the
  // fifth turn no longer fits.
  const lines = [1, 2, 3, 4, 5, 6].map((n) => `Part ${n}. ${'The cat sat on the mat. '.repeat(70)}`);
  for (const line of lines) chat.send(line);
  await chat.until(() => chat.prompts() === lines.length + 1 && chat.out.endsWith('\n> '), `${lines.length} replies`);
  assert.match(chat.out, /\(the conversation outgrew the model's context: its oldest \d+ turns? dropped\)/);
  assert.doesNotMatch(chat.out, /error:/);

  const before = chat.out.length;
  chat.send('word '.repeat(3000));
  await chat.waitFor(/error: server answered 400: .*this message alone is too long for the model's context\)\n> $/, before);
  const after = chat.out.length;
  chat.send('The end');
  await chat.waitFor(/\S+[^]*\n> $/, after);
  chat.send('/exit');
  assert.equal(await chat.exited, 0, chat.err);
  assert.doesNotMatch(chat.err, /at .*\.ts:\d+/, 'no stack trace');
});

test('a server that cannot be reached is one line, not a stack trace', async () => {
  const closed = net.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as net.AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  const child = spawn(process.execPath, [CLI, 'chat', '--url', `http://127.0.0.1:${port}/v1`], { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise((resolve) => child.once('exit', resolve));
  assert.equal(code, 1);
  assert.match(err, new RegExp(`^pensieve: error: cannot reach http://127\\.0\\.0\\.1:${port}/v1/models: .*ECONNREFUSED`, 'm'));
  assert.doesNotMatch(err, /\n\s+at /);
});
