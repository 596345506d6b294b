// `pensieve generate` end to end: the golden greedy outputs of the real trained
// models, from every file form, and one-line errors for bad input.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { CLI, MODELS } from '../helpers/paths.js';

const run = promisify(execFile);

interface GoldenCase {
  prompt: string;
  steps: number;
  prompt_ids: number[];
  generated_ids: number[];
  generated_text: string;
}

function golden(model: string): GoldenCase[] {
  return (JSON.parse(fs.readFileSync(path.join(MODELS, model, 'golden_greedy.json'), 'utf8')) as { cases: GoldenCase[] }).cases;
}

async function generate(args: string[]): Promise<{ prompt_ids: number[]; output_ids: number[]; text: string; finish_reason: string }> {
  const { stdout } = await run(process.execPath, [CLI, 'generate', '--json', ...args]);
  return JSON.parse(stdout);
}

const stories = path.join(MODELS, 'stories260K');
const forms: [string, string[]][] = [
  ['llama2.c .bin', ['--model', path.join(stories, 'stories260K.bin')]],
  ['GGUF', ['--model', path.join(stories, 'stories260K.gguf')]],
  ['safetensors', ['--model', path.join(MODELS, 'stories260K-hf'), '--tokenizer', path.join(stories, 'tok512.bin')]],
];

for (const [form, modelArgs] of forms) {
  for (const c of golden('stories260K')) {
    test(`stories260K from ${form} reproduces the golden greedy output for ${JSON.stringify(c.prompt)}`, async () => {
      // run.c's `steps` counts every position including BOS and the prompt.
      const maxTokens = c.steps - c.prompt_ids.length + 1;
      const out = await generate([...modelArgs, '--prompt', c.prompt, '--max-tokens', String(maxTokens)]);
      assert.deepEqual(out.prompt_ids, c.prompt_ids);
      assert.deepEqual(out.output_ids, c.generated_ids);
      assert.equal(out.text, c.generated_text);
    });
  }
}

for (const c of golden('aidreams260K')) {
  test(`aidreams260K (MHA, head size 16, 128 positions) reproduces its golden output for ${JSON.stringify(c.prompt)}`, async () => {
    const maxTokens = c.steps - c.prompt_ids.length + 1;
    const out = await generate(['--model', path.join(MODELS, 'aidreams260K', 'aidreams260K.bin'), '--prompt', c.prompt, '--max-tokens', String(maxTokens)]);
    assert.deepEqual(out.prompt_ids, c.prompt_ids);
    assert.deepEqual(out.output_ids, c.generated_ids);
  });
}

test('without --model the demo model runs, announced by a warning', async () => {
  const { stdout, stderr } = await run(process.execPath, [CLI, 'generate', '--prompt', 'Hello', '--max-tokens', '8', '--json']);
  assert.match(stderr, /warning: .*demo model/);
  const out = JSON.parse(stdout) as { output_ids: number[] };
  assert.equal(out.output_ids.length, 8);
});

const badInputs: [string, string[], RegExp][] = [
  ['a missing model path', ['--model', '/nonexistent/model.gguf'], /\/nonexistent\/model\.gguf: no such file/],
  ['a file that is not a model', ['--model', path.join(MODELS, 'README.md')], /README\.md: not a model/],
  ['a model without a tokenizer', ['--model', path.join(MODELS, 'stories260K-hf')], /stories260K-hf: .*tokenizer/],
  ['a bad flag value', ['--max-tokens', 'many'], /--max-tokens must be an integer/],
  ['an unknown flag', ['--frobnicate'], /frobnicate/],
];

for (const [what, args, message] of badInputs) {
  test(`${what} gives a one-line error and exit code 1`, async () => {
    await assert.rejects(run(process.execPath, [CLI, 'generate', '--prompt', 'x', ...args]), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 1);
      assert.match(err.stderr, message);
      assert.doesNotMatch(err.stderr, /\n\s+at /, 'no stack trace');
      return true;
    });
  });
}
