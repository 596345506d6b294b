// The newcomer's path: the README's commands are `npm ci && npm start` and `npm test`, and
// `npm start` runs bin/pensieve.js directly (npx would install the package again and rebuild
// the addon); a serve shows a sign of life at once, long before its model is loaded.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { CLI, MODELS, REPO_ROOT } from '../helpers/paths.js';

test("the README's two commands are npm scripts that run the sources in place", () => {
  const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const first = /```sh\n([^\n]*)\n([^\n]*)\n```/.exec(readme);
  assert.ok(first, 'a first sh block of two commands');
  assert.match(first[1]!, /^npm ci && npm start\s+#/);
  assert.match(first[2]!, /^npm test\s+#/);
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  assert.equal(pkg.scripts.start, 'node bin/pensieve.js serve');
  assert.doesNotMatch(readme, /npx pensieve /, 'npx would install and build the package a second time');
  assert.match(fs.readFileSync(path.join(REPO_ROOT, '.npmrc'), 'utf8'), /^foreground-scripts=true$/m);
});

test('serve says it has started within 2 s, then serves', async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pensieve-startup-'));
  t.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const started = performance.now();
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--data-dir', dataDir, '--model', path.join(MODELS, 'stories260K', 'stories260K.gguf')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let err = '';
  let firstAt = -1;
  await new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      if (firstAt < 0) firstAt = performance.now() - started;
      err += d.toString();
      if (/serving .* at http/.test(err)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}:\n${err}`)));
  });
  child.kill('SIGTERM');
  await exited;
  assert.ok(err.startsWith('pensieve serve: starting\n'), err);
  assert.ok(firstAt < 2000, `first line after ${firstAt.toFixed(0)} ms`);
});
