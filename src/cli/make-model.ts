// `pensieve make-model`: a model of a real config's shape with random (seeded) weights and a
// real tokenizer, as a GGUF file or a Hugging Face directory, so benchmarks and tests run at
// real sizes without downloading weights. The output is noise by construction.
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { architecture } from '../model/architectures/index.js';
import { configFromHf } from '../model/config.js';
import { elementCount } from '../model/formats/tensor.js';
import { expectedTensorShapes } from '../model/tensor-names.js';
import { fitVocab, ggufTokenizerKeys, randomTensors, saveGgufModel, saveHfModel, saveHfTokenizer } from '../model/random-model.js';
import { CliError } from './errors.js';
import { numberFlag } from './flags.js';
import { progressBar } from './progress.js';

const DEFAULT_VOCAB = fileURLToPath(new URL('../../../shared/tokenizers/qwen2.5/', import.meta.url));

const HELP = `usage: pensieve make-model --config CONFIG.json --out DIR|FILE.gguf [options]

  --config FILE    a Hugging Face config.json (e.g. ../shared/models/configs/Qwen2.5-0.5B-Instruct.json)
  --out PATH       FILE.gguf writes a GGUF; anything else a Hugging Face directory
                   (config.json, model.safetensors, tokenizer files)
  --dtype T        bf16 | f32 | f16 | q8_0 (default bf16; q8_0 only for GGUF)
  --seed N         weight seed (default 0): the same seed gives the same bytes
  --layers N       only the first N layers of the config (a quick model of a large shape)
  --vocab DIR      a vocab.json + merges.txt tokenizer to embed, fitted to the config's vocab size
                   (default ${DEFAULT_VOCAB})
`;

const DTYPES = ['bf16', 'f32', 'f16', 'q8_0'] as const;
type MakeDtype = (typeof DTYPES)[number];

export async function runMakeModel(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      config: { type: 'string' },
      out: { type: 'string' },
      dtype: { type: 'string', default: 'bf16' },
      seed: { type: 'string' },
      layers: { type: 'string' },
      vocab: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  if (values.config === undefined || values.out === undefined) throw new CliError(`--config and --out are required\n${HELP}`);
  const dtype = values.dtype as MakeDtype;
  if (!DTYPES.includes(dtype)) throw new CliError(`--dtype must be one of ${DTYPES.join(', ')}, got '${values.dtype}'`);
  const gguf = values.out.endsWith('.gguf');
  if (dtype === 'q8_0' && !gguf) throw new CliError('--dtype q8_0 needs a .gguf --out (safetensors has no q8_0)');
  const seed = numberFlag(values.seed, 'seed', { integer: true, min: 0 }) ?? 0;

  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(values.config, 'utf8'));
  } catch (err) {
    throw new CliError(`cannot read --config ${values.config}: ${(err as Error).message}`);
  }
  const full = configFromHf(json, values.config);
  const layers = numberFlag(values.layers, 'layers', { integer: true, min: 1 });
  if (layers !== undefined && layers > full.numLayers) throw new CliError(`--layers ${layers} is more than the config's ${full.numLayers}`);
  const numLayers = layers ?? full.numLayers;
  const config = { ...full, numLayers, ...(full.noRopeLayers ? { noRopeLayers: full.noRopeLayers.filter((l) => l < numLayers) } : {}) };
  if (gguf && architecture(config.architecture).opt) throw new CliError(`${config.architecture} has no GGUF form (llama.cpp has no such architecture): give --out a directory`);
  const vocabDir = values.vocab ?? DEFAULT_VOCAB;
  if (!fs.existsSync(nodePath.join(vocabDir, 'vocab.json')) || !fs.existsSync(nodePath.join(vocabDir, 'merges.txt'))) {
    throw new CliError(`--vocab ${vocabDir} has no vocab.json + merges.txt`);
  }

  const started = performance.now();
  const params = [...expectedTensorShapes(config).values()].reduce((n, shape) => n + elementCount(shape), 0);
  // A real size takes minutes on a small machine: say what is coming, then show each step.
  process.stderr.write(`pensieve: making ${values.out}: ${config.architecture}, ${config.numLayers} layers, ${(params / 1e6).toFixed(1)}M parameters, ${dtype}\n`);
  const vocab = fitVocab(vocabDir, config.vocabSize);
  // q8_0 is quantized from bf16 values, as a bf16 checkpoint converted by llama.cpp would be.
  const tensors = randomTensors(config, { seed, dtype: dtype === 'q8_0' ? 'bf16' : dtype, onProgress: progressBar('random weights') });
  if (gguf) {
    fs.mkdirSync(nodePath.dirname(nodePath.resolve(values.out)), { recursive: true });
    const onProgress = dtype === 'q8_0' ? progressBar('quantizing to q8_0') : undefined;
    process.stderr.write(`writing ${values.out}\n`);
    saveGgufModel(values.out, config, tensors, { weightDtype: dtype, tokenizerKeys: ggufTokenizerKeys(vocab), onProgress });
  } else {
    process.stderr.write(`writing ${values.out}\n`);
    saveHfModel(values.out, config, tensors);
    saveHfTokenizer(values.out, vocab);
  }
  process.stderr.write(
    `pensieve: wrote ${values.out}: ${config.architecture}, ${(params / 1e6).toFixed(1)}M parameters, ${dtype}, ` +
      `vocab ${config.vocabSize} from ${vocabDir}${vocab.whole ? '' : ' (truncated)'}, ` +
      `${((performance.now() - started) / 1000).toFixed(1)} s\n`,
  );
}
