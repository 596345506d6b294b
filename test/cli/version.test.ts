// `pensieve --version` and `-v` print the package's version.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { CLI, REPO_ROOT } from '../helpers/paths.js';

test('--version and -v print the package version', async () => {
  const { version } = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  for (const flag of ['--version', '-v']) {
    const { stdout } = await promisify(execFile)(process.execPath, [CLI, flag]);
    assert.equal(stdout, `pensieve ${version}\n`);
  }
});
