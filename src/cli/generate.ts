// `pensieve generate`: one prompt in, generated text out (streamed, or one JSON
// object with --json). Without --model it runs the built-in demo model.
import { parseArgs } from 'node:util';
import { GREEDY } from '../engine/sampler.js';
import { generate } from '../engine/generate.js';
import { ModelRunner } from '../engine/model-runner.js';
import { DEFAULT_BLOCK_SIZE, KvCache } from '../model/kv-cache.js';
import { loadModel } from '../model/load.js';
import { StreamDecoder } from '../model/tokenizer/stream.js';
import { CliError } from './errors.js';
import { numberFlag, weightFormatFlag } from './flags.js';
import { progressBar } from './progress.js';

const HELP = `usage: pensieve generate [--model PATH] [--tokenizer PATH] --prompt TEXT [options]

  --model PATH         a GGUF file, a Hugging Face directory, or a llama2.c checkpoint
                       (default: the built-in demo model, random weights)
  --tokenizer PATH     tokenizer file or directory, when it is not beside the model
  --prompt TEXT        the prompt (raw text; no chat template is applied)
  --max-tokens N       tokens to generate (default 128)
  --temperature T      0 = greedy (default 0)
  --top-k K  --top-p P  --min-p P  --seed S
  --weights FORMAT     auto | f32 | bf16 | q8_0 (default auto: keep the file's precision)
  --threads N          kernel threads (default: one per core)
  --prefill-chunk N    prefill at most N tokens per forward pass
  --json               print one JSON object: prompt_ids, output_ids, text, finish_reason, timings
`;

export async function runGenerate(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      model: { type: 'string' },
      tokenizer: { type: 'string' },
      prompt: { type: 'string' },
      'max-tokens': { type: 'string' },
      temperature: { type: 'string' },
      'top-k': { type: 'string' },
      'top-p': { type: 'string' },
      'min-p': { type: 'string' },
      seed: { type: 'string' },
      weights: { type: 'string' },
      threads: { type: 'string' },
      'prefill-chunk': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  if (values.prompt === undefined) throw new CliError(`--prompt is required\n${HELP}`);

  const maxTokens = numberFlag(values['max-tokens'], 'max-tokens', { integer: true, min: 0 }) ?? 128;
  const sampling = {
    ...GREEDY,
    temperature: numberFlag(values.temperature, 'temperature', { min: 0 }) ?? 0,
    topK: numberFlag(values['top-k'], 'top-k', { integer: true, min: 0 }) ?? 0,
    topP: numberFlag(values['top-p'], 'top-p', { min: 0, max: 1 }) ?? 1,
    minP: numberFlag(values['min-p'], 'min-p', { min: 0, max: 1 }) ?? 0,
    seed: numberFlag(values.seed, 'seed', { integer: true, min: 0 }),
  };
  const threads = numberFlag(values.threads, 'threads', { integer: true, min: 1 });
  const prefillChunk = numberFlag(values['prefill-chunk'], 'prefill-chunk', { integer: true, min: 1 });

  const bar = values.json ? undefined : progressBar('loading');
  const model = await loadModel(values.model, {
    tokenizer: values.tokenizer,
    weightFormat: weightFormatFlag(values.weights),
    threads,
    onProgress: bar,
    warn: (msg) => process.stderr.write(`warning: ${msg}\n`),
  });

  const promptIds = model.tokenizer.encode(values.prompt);
  const positions = Math.min(model.config.maxPositionEmbeddings, promptIds.length + maxTokens);
  const kv = new KvCache(model.config, Math.max(1, Math.ceil(positions / DEFAULT_BLOCK_SIZE)));
  const runner = new ModelRunner(model.transformer, kv);
  const decoder = new StreamDecoder(model.tokenizer);
  const started = performance.now();
  let firstToken = 0;
  if (!values.json) process.stdout.write(values.prompt);
  const result = generate(runner, promptIds, {
    maxTokens,
    sampling,
    stopIds: model.stopIds,
    prefillChunk,
    onToken: (id) => {
      if (!firstToken) firstToken = performance.now();
      if (!values.json) process.stdout.write(decoder.push(id));
    },
  });
  const finished = performance.now();
  const text = model.tokenizer.decode(result.outputIds);
  const decodeTokens = Math.max(0, result.outputIds.length - 1);
  const timings = {
    prompt_tokens: promptIds.length,
    ttft_ms: firstToken ? firstToken - started : null,
    total_ms: finished - started,
    decode_tokens_per_s: firstToken && decodeTokens > 0 ? (decodeTokens * 1000) / (finished - firstToken) : null,
  };
  if (values.json) {
    const out = { model: model.id, prompt: values.prompt, prompt_ids: result.promptIds, output_ids: result.outputIds, text, finish_reason: result.finishReason, timings };
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } else {
    process.stdout.write(`${decoder.flush()}\n`);
    process.stderr.write(
      `[${result.outputIds.length} tokens, ${result.finishReason}; prompt ${promptIds.length} tokens, ` +
        `TTFT ${timings.ttft_ms?.toFixed(1) ?? '-'} ms, decode ${timings.decode_tokens_per_s?.toFixed(1) ?? '-'} tok/s]\n`,
    );
  }
}
