// `npm run bench:kernels`: model-level kernel speed on a real shape (Qwen2.5-0.5B by default)
// in bf16 and q8_0, each figure beside (a) this machine's roofline, probed in the same run, and
// (b) llama.cpp (node-llama-cpp's prebuilt CPU build) on the same GGUF, interleaved with ours
// round by round so both see the same load. Prints medians over rounds as a Markdown table.
// A benchmark, not a test: numbers depend on what else the (shared, 2-core) machine runs.
//
//   npm run bench:kernels -- [--rounds N] [--formats bf16,q8_0] [--config FILE] [--no-llama] [--llama-threads N]
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { addon } from '../src/kernels/native.js';
import type { ModelConfig } from '../src/model/config.js';
import { benchAttention } from './kernels-attention.js';
import { installLlamaCpp, llamaSystemInfo, loadLlamaCpp } from './kernels-llama.js';
import { loadOurs } from './kernels-ours.js';
import type { EngineUnderTest } from './kernels-types.js';
import { packedBytesPerValue } from './timing.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    formats: { type: 'string', default: 'bf16,q8_0' },
    config: { type: 'string', default: `${ROOT}../shared/models/configs/Qwen2.5-0.5B-Instruct.json` },
    'no-llama': { type: 'boolean', default: false },
    'llama-threads': { type: 'string' },
  },
});
const ROUNDS = Number(flags.rounds);
const FORMATS = flags.formats.split(',') as ('bf16' | 'q8_0')[];
const THREADS = addon.cpuInfo().threads;
const DECODE_CONTEXT = 128;
const DECODE_STEPS = 32;
const PREFILLS = [128, 512, 2048];
const BATCHES: [number, number][] = [[8, 16], [32, 8]];  // [sequences, steps]
const ATTENTION_CONTEXT = 4096;
const ATTENTION_QUERIES = [1, 16, 512];

const log = (line: string) => process.stderr.write(`${line}\n`);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b), h = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
};
const loadText = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');

// ---- models ----
function modelPath(format: string): string {
  const name = flags.config.split('/').pop()!.replace(/\.json$/, '');
  const file = `${ROOT}.pensieve/bench/${name}-${format}.gguf`;
  if (!fs.existsSync(file)) {
    log(`making ${file} ...`);
    execFileSync(process.execPath, [`${ROOT}bin/pensieve.js`, 'make-model', '--config', flags.config, '--dtype', format, '--out', file], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
  }
  return file;
}

// ---- rooflines ----
interface Probe { bw: number; bf16: number; int8: number; f32: number }
function probe(): Probe {
  return {
    bw: addon.probeReadBandwidth(512 << 20, 3),
    bf16: addon.probeFlops('bf16', 4_000_000),
    int8: addon.probeFlops('int8', 4_000_000),
    f32: addon.probeFlops('f32', 4_000_000),
  };
}

/**
 * Weight bytes one decode token streams, and matmul flops (2 per multiply-add) of a token
 * that computes logits (decode) and of the layers alone (a prompt token: a prefill computes
 * the classifier for its last row only).
 */
function modelCost(c: ModelConfig, format: 'bf16' | 'q8_0') {
  const qkvo = c.hiddenSize * (2 * c.numHeads * c.headDim + 2 * c.numKvHeads * c.headDim);
  const ffn = 3 * c.hiddenSize * c.intermediateSize;
  const layerParams = c.numLayers * (qkvo + ffn), headParams = c.vocabSize * c.hiddenSize;
  const params = layerParams + headParams;
  const kvBytesPerToken = 2 * c.numLayers * c.numKvHeads * c.headDim * 4;
  return {
    params, weightBytes: params * packedBytesPerValue(format), kvBytesPerToken,
    flopsPerToken: 2 * params, layerFlopsPerToken: 2 * layerParams, headFlops: 2 * headParams,
  };
}
const attentionFlops = (c: ModelConfig, keys: number) => 4 * c.numLayers * c.numHeads * c.headDim * keys;

// ---- measurement ----
type Samples = Map<string, number[]>;
function record(s: Samples, key: string, v: number) {
  if (!s.has(key)) s.set(key, []);
  s.get(key)!.push(v);
  log(`    ${key}: ${v.toFixed(1)} (load ${loadText()})`);
}

async function measure(engine: EngineUnderTest, s: Samples): Promise<void> {
  const p = engine.name;
  // The memory bandwidth left to us moves with the neighbours' load: probe it next to each
  // decode measurement, and judge decode against the probes beside it.
  const before = addon.probeReadBandwidth(512 << 20, 3);
  record(s, `${p} decode`, await engine.batchedDecode(1, DECODE_CONTEXT, DECODE_STEPS));
  record(s, `${p} decode bw`, (before + addon.probeReadBandwidth(512 << 20, 3)) / 2);
  for (const n of PREFILLS) record(s, `${p} prefill ${n}`, n / (await engine.prefill(n)));
  for (const [b, steps] of BATCHES) record(s, `${p} batch ${b}`, await engine.batchedDecode(b, DECODE_CONTEXT, steps));
}

async function benchFormat(format: 'bf16' | 'q8_0', llamaOk: boolean, probes: Probe[]) {
  const path = modelPath(format);
  const maxContext = Math.max(...PREFILLS) + 64;
  const ours = await loadOurs(path, 'auto', Math.max(...BATCHES.map(([b]) => b)), DECODE_CONTEXT + 64, maxContext);
  const llama = llamaOk ? await loadLlamaCpp(path, Number(flags['llama-threads'] ?? THREADS), maxContext) : null;
  const samples: Samples = new Map();
  for (let r = 0; r < ROUNDS; r++) {
    probes.push(probe());
    // Alternate who goes first, so neither always meets a warmer (or busier) machine.
    const order = r % 2 === 0 ? [ours, llama] : [llama, ours];
    for (const e of order) if (e) await measure(e, samples);
    log(`  ${format} round ${r + 1}/${ROUNDS} done (load ${loadText()})`);
  }
  await llama?.close();
  return { config: ours.config, samples };
}

// ---- report ----
const fmt = (x: number, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');

async function main() {
  log(`bench:kernels: ${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}, ${THREADS} kernel threads, ISA ${addon.cpuInfo().isa}, load ${loadText()}`);
  let llamaOk = !flags['no-llama'];
  let llamaWhy = flags['no-llama'] ? 'not run (--no-llama)' : '';
  if (llamaOk) {
    try {
      installLlamaCpp(log);
      log(`llama.cpp: ${await llamaSystemInfo()}`);
    } catch (err) {
      llamaOk = false;
      llamaWhy = `cannot run: ${(err as Error).message.split('\n')[0]}`;
      log(`llama.cpp ${llamaWhy}`);
    }
  }
  const loadBefore = loadText();
  const probes: Probe[] = [];
  const results = [];
  for (const format of FORMATS) results.push({ format, ...(await benchFormat(format, llamaOk, probes)) });
  const config = results[0]!.config;
  const attention = (['f32', 'bf16'] as const).flatMap((dt) => benchAttention(config, ATTENTION_CONTEXT, ATTENTION_QUERIES, 1, dt));
  probes.push(probe());
  const P: Probe = { bw: median(probes.map((p) => p.bw)), bf16: median(probes.map((p) => p.bf16)), int8: median(probes.map((p) => p.int8)), f32: median(probes.map((p) => p.f32)) };

  const out: string[] = [];
  out.push(`Machine: ${os.cpus()[0]?.model ?? 'cpu'}, ${os.cpus().length} cores, ${THREADS} threads; load average ${loadBefore} before, ${loadText()} after.`);
  out.push(`Roofline probes (median of ${probes.length}): DRAM read ${fmt(P.bw)} GB/s (range ${fmt(Math.min(...probes.map((p) => p.bw)))}–${fmt(Math.max(...probes.map((p) => p.bw)))}), ` +
    `bf16 ${fmt(P.bf16, 0)} GFLOP/s, int8 ${fmt(P.int8, 0)} GOP/s, f32 ${fmt(P.f32, 0)} GFLOP/s.`);
  out.push(`llama.cpp: ${llamaOk ? `node-llama-cpp prebuilt CPU binary, same GGUF, ${flags['llama-threads'] ?? THREADS} threads` : llamaWhy}. Medians of ${ROUNDS} interleaved rounds.`);
  out.push('');
  out.push('| workload | format | pensieve tok/s | llama.cpp tok/s | × llama.cpp | roofline tok/s | % of roofline |');
  out.push('| --- | --- | ---: | ---: | ---: | ---: | ---: |');
  const verdicts: string[] = [];
  const notes: string[] = [];
  for (const { format, config: c, samples } of results) {
    const cost = modelCost(c, format);
    const peak = format === 'bf16' ? P.bf16 : P.int8;
    const get = (k: string) => median(samples.get(k) ?? []);
    const best = (k: string) => Math.max(...(samples.get(k) ?? [NaN]));
    const row = (label: string, key: string, roof: number, share?: number) => {
      const ours = get(`pensieve ${key}`), theirs = get(`llama.cpp ${key}`);
      share ??= ours / roof;
      out.push(`| ${label} | ${format} | ${fmt(ours)} | ${fmt(theirs)} (best ${fmt(best(`llama.cpp ${key}`))}) | ${fmt(ours / theirs, 2)} | ` +
        `${fmt(roof)} | ${fmt(100 * share, 0)}% |`);
      return { ours, theirs, roof, share };
    };
    const ctxMid = DECODE_CONTEXT + DECODE_STEPS / 2;
    const decodeBytes = cost.weightBytes + cost.kvBytesPerToken * ctxMid;
    // Decode's share of the roofline: each round's tok/s over the bandwidth probed beside it.
    const shareOf = (engine: string) => {
      const tps = samples.get(`${engine} decode`) ?? [], bws = samples.get(`${engine} decode bw`) ?? [];
      return median(tps.map((t, i) => (t * decodeBytes) / (bws[i]! * 1e9)));
    };
    const share = shareOf('pensieve'), llamaShare = shareOf('llama.cpp');
    const d = row('decode, batch 1', 'decode', (median(samples.get('pensieve decode bw') ?? []) * 1e9) / decodeBytes, share);
    // The bandwidth the neighbours leave swings between two measurements taken seconds apart, so
    // decode is also compared as each engine's share of the bandwidth probed beside it.
    notes.push(`- ${format} decode as a share of the bandwidth probed beside each measurement: pensieve ${fmt(100 * share, 0)}%, ` +
      `llama.cpp ${fmt(100 * llamaShare, 0)}% (bandwidth-normalized ratio ${fmt(share / llamaShare, 2)}×).`);
    const prefill: Record<number, { ours: number; theirs: number }> = {};
    for (const n of PREFILLS) {
      const flops = cost.layerFlopsPerToken + cost.headFlops / n + attentionFlops(c, n / 2);
      prefill[n] = row(`prefill ${n}`, `prefill ${n}`, (peak * 1e9) / flops);
    }
    const batch: Record<number, number> = {};
    for (const [b] of BATCHES) {
      const roof = Math.min((b * P.bw * 1e9) / (cost.weightBytes + b * cost.kvBytesPerToken * ctxMid), (peak * 1e9) / cost.flopsPerToken);
      batch[b] = row(`decode, ${b} sequences`, `batch ${b}`, roof).ours;
    }
    const v = (ok: boolean) => (ok ? 'met' : 'missed');
    if (format === 'bf16') {
      verdicts.push(`- bf16 decode batch 1 ≥ 90% of the bandwidth roofline: ${v(d.share >= 0.9)} (${fmt(d.ours)} tok/s, ${fmt(100 * d.share, 0)}% of the roofline probed beside it; median roofline ${fmt(d.roof)} tok/s)`);
      verdicts.push(`- bf16 decode batch 1 ≥ 1.1× llama.cpp bf16: ${v(d.ours >= 1.1 * d.theirs)} (${fmt(d.ours / d.theirs, 2)}× by medians, ${fmt(share / llamaShare, 2)}× bandwidth-normalized)`);
      verdicts.push(`- prefill 512 ≥ 1.5× llama.cpp bf16: ${v(prefill[512]!.ours >= 1.5 * prefill[512]!.theirs)} (${fmt(prefill[512]!.ours)} vs ${fmt(prefill[512]!.theirs)} tok/s, ${fmt(prefill[512]!.ours / prefill[512]!.theirs, 2)}×)`);
      verdicts.push(`- batched decode, 32 sequences ≥ 8× batch-1: ${v(batch[32]! >= 8 * d.ours)} (${fmt(batch[32]! / d.ours, 1)}×)`);
    } else {
      verdicts.push(`- 8-bit decode batch 1 ≥ 1.0× llama.cpp q8_0: ${v(d.ours >= d.theirs)} (${fmt(d.ours)} vs ${fmt(d.theirs)} tok/s, ${fmt(d.ours / d.theirs, 2)}× by medians, ${fmt(share / llamaShare, 2)}× bandwidth-normalized)`);
    }
  }
  out.push('');
  out.push(`Attention kernel (pensieve, one layer of ${config.numHeads}/${config.numKvHeads} heads × ${config.headDim}, ${ATTENTION_CONTEXT}-token context, f32 and bf16 K/V):`);
  out.push('');
  out.push('| K/V | query tokens | ms per layer | GFLOP/s | K/V GB/s | roofline ms | % of roofline |');
  out.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const a of attention) {
    const roof = Math.max(a.kvBytes / (P.bw * 1e9), a.flops / (P.f32 * 1e9));
    out.push(`| ${a.kvDType} | ${a.queryTokens} | ${fmt(a.seconds * 1e3, 3)} | ${fmt(a.flops / a.seconds / 1e9)} | ${fmt(a.kvBytes / a.seconds / 1e9)} | ${fmt(roof * 1e3, 3)} | ${fmt((100 * roof) / a.seconds, 0)}% |`);
  }
  out.push('');
  out.push(...notes);
  out.push('');
  out.push('Targets (issue 6):');
  out.push(...verdicts);
  console.log(out.join('\n'));
}

await main();
