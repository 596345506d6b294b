// bench/kernels.ts's report: medians of the interleaved rounds as Markdown tables, each figure
// beside its roofline (probed in the same run) and llama.cpp's, then issue 12's targets.
import type { ModelConfig } from '../src/model/config.js';
import type { AttentionResult } from './kernels-attention.js';
import type { LlamaNativeInfo } from './kernels-llama-native.js';
import type { BenchModel, TensorBytes } from './kernels-models.js';
import type { RssReport } from './kernels-rss.js';
import { judgeTargets, type FormatResult } from './kernels-targets.js';
import type { LlamaCppBuild } from './llama-cpp/build.js';

export interface Probe { bw: number; bf16: number; int8: number; f32: number }
/** Which instruction each probe timed on the active ISA (native/probe.cc), '' where none. */
export type ProbeInstructions = Record<keyof Probe, string>;
/** Samples per key "<engine> <workload>" (engine: pensieve, llama.cpp, prebuilt), one per round. */
export type Samples = Map<string, number[]>;
export interface RoundLoad { format: string; round: number; loadStart: number; loadEnd: number; bw: number }

export interface FormatRun {
  format: string;
  samples: Samples;
  model?: BenchModel;
  modelMissing?: string;
  weightBytes?: TensorBytes;
  kvDType?: string;
  rss?: RssReport;
  oursMissing?: string;
  llamaMissing?: string;
  prebuiltMissing?: string;
  llamaInfo?: LlamaNativeInfo;
}

export interface BenchRun {
  machine: string;
  isa: string;
  loadBefore: string;
  loadAfter: string;
  rounds: number;
  config: ModelConfig;
  build: LlamaCppBuild | null;
  llamaWhy: string;
  llamaThreads: number;
  llamaReps: number;
  prebuiltInfo?: string;
  probes: Probe[];
  probeInstructions: ProbeInstructions;
  roundLoads: RoundLoad[];
  formats: FormatRun[];
  attention: AttentionResult[];
  attentionContext: number;
  decodeContext: number;
  decodeSteps: number;
  prefills: number[];
  batches: [number, number][];
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b), h = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
};
const fmt = (x: number, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');
const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(0)}%` : 'n/a');
const mib = (b: number) => (Number.isFinite(b) ? (b / 2 ** 20).toFixed(1) : 'n/a');

/** Parameters and matmul flops (2 per multiply-add) of the model's shape, whatever the format. */
function shapeCost(c: ModelConfig, kvDType: string) {
  const qkvo = c.hiddenSize * (2 * c.numHeads * c.headDim + 2 * c.numKvHeads * c.headDim);
  const ffn = 3 * c.hiddenSize * c.intermediateSize;
  const layerParams = c.numLayers * (qkvo + ffn), headParams = c.vocabSize * c.hiddenSize;
  return {
    kvBytesPerToken: 2 * c.numLayers * c.numKvHeads * c.headDim * (kvDType === 'bf16' ? 2 : 4),
    flopsPerToken: 2 * (layerParams + headParams), layerFlopsPerToken: 2 * layerParams, headFlops: 2 * headParams,
  };
}
const attentionFlops = (c: ModelConfig, keys: number) => 4 * c.numLayers * c.numHeads * c.headDim * keys;

/** A probe's median; the probes answer 0 where no SIMD path applies (native/probe.cc: AVX-512 or AVX2). */
const probed = (xs: readonly number[]) => {
  const m = median(xs.filter((x) => x > 0));
  return m > 0 ? m : NaN;
};

export function report(run: BenchRun): string {
  const P: Probe = {
    bw: probed(run.probes.map((p) => p.bw)), bf16: probed(run.probes.map((p) => p.bf16)),
    int8: probed(run.probes.map((p) => p.int8)), f32: probed(run.probes.map((p) => p.f32)),
  };
  const prebuilt = run.prebuiltInfo !== undefined;
  const bws = run.probes.map((p) => p.bw).filter((x) => x > 0);
  const out: string[] = [];
  out.push(`Machine: ${run.machine}; load average ${run.loadBefore} before, ${run.loadAfter} after.`);
  // Each figure names the instruction it timed: on AVX2 the bf16 ceiling is the f32 FMA's.
  const ins = (k: keyof Probe) => (run.probeInstructions[k] ? ` [${run.probeInstructions[k]}]` : '');
  out.push(`Roofline probes (median of ${run.probes.length}, ISA ${run.isa}): DRAM read ${fmt(P.bw)} GB/s${ins('bw')} (range ${fmt(Math.min(...bws))}–${fmt(Math.max(...bws))}), ` +
    `bf16 ${fmt(P.bf16, 0)} GFLOP/s${ins('bf16')}, int8 ${fmt(P.int8, 0)} GOP/s${ins('int8')}, f32 ${fmt(P.f32, 0)} GFLOP/s${ins('f32')}` +
    `${[P.bw, P.bf16, P.int8, P.f32].some((x) => !Number.isFinite(x)) ? ` (n/a: the probe needs instructions this CPU lacks; ISA ${run.isa})` : ''}.`);
  const b = run.build;
  const info = run.formats.find((f) => f.llamaInfo)?.llamaInfo;
  out.push(b
    ? `llama.cpp: ${b.tag} (commit ${b.commit.slice(0, 10)}, from node-llama-cpp's gitRelease.bundle) built for this CPU (${b.cpu}) with ${b.cmakeFlags.join(' ')}, ${b.dir}/build/bin; ` +
      `${run.llamaThreads} threads${info ? `, K/V ${info.kvType}, flash attention ${info.flashAttn}` : ''}. Decode and prefill: \`llama-bench -r ${run.llamaReps}\` ` +
      `(decode \`-p 0 -n ${run.decodeSteps} -d ${run.decodeContext}\`, prefill \`-p N -n 0\`); batched decode: \`llama-batched-bench -npp ${run.decodeContext} -ntg STEPS -npl SEQUENCES,1\` (speed_tg of the SEQUENCES row).`
    : `llama.cpp: ${run.llamaWhy}.`);
  if (prebuilt) out.push(`prebuilt: node-llama-cpp's prebuilt CPU binary (${run.prebuiltInfo}), same GGUF, ${run.llamaThreads} threads, through its JS API.`);
  out.push(`Medians of ${run.rounds} interleaved rounds (each round runs every engine on every workload, rotating who goes first).`);
  out.push('');

  // Model files and memory.
  out.push('| format | file | made by | file MiB | tensor MiB | pensieve weights | RSS before load MiB | RSS after load MiB | peak MiB | KV pool MiB |');
  out.push('| --- | --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |');
  for (const f of run.formats) {
    if (!f.model) {
      out.push(`| ${f.format} | – | not made: ${f.modelMissing} | | | | | | | |`);
      continue;
    }
    const r = f.rss;
    const tensors = f.weightBytes ? `${mib(f.weightBytes.bytes)}${f.weightBytes.source === 'gguf' ? '' : ` (${f.weightBytes.source})`}` : 'n/a';
    out.push(`| ${f.format} | ${f.model.path.split('/').pop()} | ${f.model.madeBy} | ${mib(f.model.fileBytes)} | ${tensors} | ` +
      (r ? `${r.weightDType}, K/V ${r.kvDType} | ${mib(r.rssBeforeBytes)} | ${mib(r.rssAfterBytes)} | ${mib(r.peakBytes)} | ${mib(r.kvPoolBytes)} |`
        : `not supported: ${f.oursMissing} | | | | |`));
  }
  out.push('');

  const head = ['workload', 'format', 'pensieve tok/s', 'llama.cpp tok/s', '× llama.cpp', ...(prebuilt ? ['prebuilt tok/s', '× prebuilt'] : []), 'roofline tok/s', '% of roofline'];
  out.push(`| ${head.join(' | ')} |`);
  out.push(`| --- | --- | ${head.slice(2).map(() => '---:').join(' | ')} |`);
  const notes: string[] = [];
  const results: FormatResult[] = [];
  for (const f of run.formats) {
    if (!f.model) continue;
    const s = f.samples;
    const get = (k: string) => median(s.get(k) ?? []);
    const best = (k: string) => Math.max(...(s.get(k) ?? [NaN]));
    const cost = shapeCost(run.config, f.kvDType ?? 'f32');
    const weightBytes = f.weightBytes?.bytes ?? NaN;
    const peak = f.format === 'bf16' ? P.bf16 : f.format === 'f32' || f.format === 'f16' ? P.f32 : P.int8;
    const cell = (engine: string, key: string, missing?: string) =>
      missing ? (engine === 'pensieve' ? `not supported` : 'not run') : fmt(get(`${engine} ${key}`));
    const row = (label: string, key: string, roof: number, share?: number) => {
      const ours = get(`pensieve ${key}`), theirs = get(`llama.cpp ${key}`), pre = get(`prebuilt ${key}`);
      const llamaCell = f.llamaMissing ? 'not run' : `${fmt(theirs)} (best ${fmt(best(`llama.cpp ${key}`))})`;
      const cells = [label, f.format, cell('pensieve', key, f.oursMissing), llamaCell, fmt(ours / theirs, 2),
        ...(prebuilt ? [f.prebuiltMissing ? 'not run' : fmt(pre), fmt(ours / pre, 2)] : []), fmt(roof), pct(share ?? ours / roof)];
      out.push(`| ${cells.join(' | ')} |`);
      return { ours, theirs };
    };
    const ctxMid = run.decodeContext + run.decodeSteps / 2;
    const decodeBytes = weightBytes + cost.kvBytesPerToken * ctxMid;
    // Decode's share of the roofline: each round's tok/s over the bandwidth probed beside it.
    const shareOf = (engine: string) => {
      const tps = s.get(`${engine} decode`) ?? [], bws = s.get(`${engine} decode bw`) ?? [];
      return median(tps.map((t, i) => (t * decodeBytes) / (bws[i]! * 1e9)).filter((x) => Number.isFinite(x) && x > 0));
    };
    const share = shareOf('pensieve'), llamaShare = shareOf('llama.cpp');
    const d = row('decode, batch 1', 'decode', (probed(s.get('pensieve decode bw') ?? s.get('llama.cpp decode bw') ?? []) * 1e9) / decodeBytes, share);
    // The bandwidth the neighbours leave swings between two measurements taken seconds apart, so
    // decode is also compared as each engine's share of the bandwidth probed beside it.
    notes.push(`- ${f.format} decode as a share of the bandwidth probed beside each measurement: pensieve ${pct(share)}, ` +
      `llama.cpp ${pct(llamaShare)} (bandwidth-normalized ratio ${fmt(share / llamaShare, 2)}×).`);
    const prefill: Record<number, { ours: number; theirs: number }> = {};
    for (const n of run.prefills) {
      const flops = cost.layerFlopsPerToken + cost.headFlops / n + attentionFlops(run.config, n / 2);
      prefill[n] = row(`prefill ${n}`, `prefill ${n}`, (peak * 1e9) / flops);
    }
    const batch: Record<number, { ours: number; theirs: number }> = {};
    for (const [seqs] of run.batches) {
      const roof = Math.min((seqs * P.bw * 1e9) / (weightBytes + seqs * cost.kvBytesPerToken * ctxMid), (peak * 1e9) / cost.flopsPerToken);
      batch[seqs] = row(`decode, ${seqs} sequences`, `batch ${seqs}`, roof);
    }
    const pair = (x?: { ours: number; theirs: number }) => ({ ours: x?.ours ?? NaN, llama: x?.theirs ?? NaN });
    results.push({
      format: f.format, oursMissing: f.oursMissing, llamaMissing: f.llamaMissing,
      decode: { ...pair(d), oursShareOfBandwidth: share }, prefill512: pair(prefill[512]), batch32: pair(batch[32]),
      rss: f.rss && { ...f.rss, fileBytes: f.model.fileBytes },
    });
  }
  out.push('');
  out.push('Load per round (1-minute load average at its start → end; DRAM probe at its start):');
  out.push('');
  out.push('| format | round | load | DRAM GB/s |');
  out.push('| --- | ---: | --- | ---: |');
  for (const r of run.roundLoads) out.push(`| ${r.format} | ${r.round} | ${r.loadStart.toFixed(2)} → ${r.loadEnd.toFixed(2)} | ${fmt(r.bw > 0 ? r.bw : NaN)} |`);
  out.push('');
  const c = run.config;
  out.push(`Attention kernel (pensieve, one layer of ${c.numHeads}/${c.numKvHeads} heads × ${c.headDim}, ${run.attentionContext}-token context, f32 and bf16 K/V; ` +
    'roofline: K/V bytes at the probed bandwidth or flops at the f32 probe, whichever is slower):');
  out.push('');
  out.push('| K/V | query tokens | ms per layer | GFLOP/s | K/V GB/s | roofline ms | % of roofline |');
  out.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  const shares = run.attention.map((a) => {
    const roof = Math.max(a.kvBytes / (P.bw * 1e9), a.flops / (P.f32 * 1e9));
    out.push(`| ${a.kvDType} | ${a.queryTokens} | ${fmt(a.seconds * 1e3, 3)} | ${fmt(a.flops / a.seconds / 1e9)} | ${fmt(a.kvBytes / a.seconds / 1e9)} | ${fmt(roof * 1e3, 3)} | ${pct(roof / a.seconds)} |`);
    return { kvDType: a.kvDType, context: run.attentionContext, queryTokens: a.queryTokens, share: roof / a.seconds };
  });
  out.push('');
  out.push(...notes);
  out.push('');
  out.push('Targets (issue 12; Pensieve over llama.cpp built for this CPU, same file, same threads):');
  out.push('');
  out.push('| target | format | measured | needed | verdict |');
  out.push('| --- | --- | --- | --- | --- |');
  for (const t of judgeTargets(results, shares)) out.push(`| ${t.target} | ${t.format} | ${t.measured} | ${t.needed} | ${t.verdict} |`);
  return out.join('\n');
}
