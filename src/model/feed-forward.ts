// A layer's feed-forward block (gated: SwiGLU, or Gemma's GeGLU; or OPT's ungated ReLU with
// biases), dense or a routed mixture of experts: the one call the forward pass makes for it
// (transformer.ts).
//
// Experts run batched by expert, not by token: the batch's T rows are routed (moe-routing.ts),
// grouped by the expert they chose, and each used expert gathers its rows and runs once over
// them (gate and up stacked in one matmul, then down); its outputs are added back to their rows
// scaled by the routing weights. A step therefore reads only the experts its tokens chose, once
// each: decode (T small) streams k of the E experts' weights, which is why a mixture of experts
// decodes faster than a dense model of its total size.
import type { Kernels } from '../kernels/types.js';
import { relu } from './layer-norm.js';
import { matmulStack } from './matrix-stack.js';
import { groupByExpert, routeTokens } from './moe-routing.js';
import type { Scratch } from './scratch.js';
import type { FfnWeights, MoeFfn } from './weights.js';

/**
 * The gate's activation: SiLU (SwiGLU) or tanh-approximated GELU (GeGLU); or 'relu', OPT's
 * ungated FFN (fc1 = the stack's one output, ReLU, fc2, each with its bias).
 */
export type FfnActivation = 'silu' | 'gelu_tanh' | 'relu';

/** out [T][hidden] = FFN(x [T][hidden]); out must not alias x. */
export function feedForward(k: Kernels, ffn: FfnWeights, x: Float32Array, T: number, out: Float32Array, s: Scratch, activation: FfnActivation = 'silu'): void {
  if (ffn.kind === 'moe') {
    moeFeedForward(k, ffn, x, T, out, s, activation);
    return;
  }
  const width = ffn.down.cols;
  const gate = s.get('gate', T * width);
  if (activation === 'relu') {
    matmulStack(k, ffn.gateUp, x, T, [gate], ffn.upBias);
    relu(gate);
    k.matmul(ffn.down, gate, T, out, ffn.downBias);
    return;
  }
  const up = s.get('up', T * width);
  matmulStack(k, ffn.gateUp, x, T, [gate, up]);
  activate(k, activation, gate, up);
  k.matmul(ffn.down, gate, T, out);
}

/** gate = act(gate) · up. */
function activate(k: Kernels, activation: FfnActivation, gate: Float32Array, up: Float32Array): void {
  if (activation === 'relu') throw new Error('relu is an ungated FFN: it has no experts');
  if (activation === 'gelu_tanh') k.geluTanhMul(gate, up, gate);
  else k.siluMul(gate, up, gate);
}

function moeFeedForward(k: Kernels, ffn: MoeFfn, x: Float32Array, T: number, out: Float32Array, s: Scratch, activation: FfnActivation): void {
  const hidden = ffn.router.cols;
  const numExperts = ffn.router.rows;
  const logits = s.get('router', T * numExperts);
  k.matmul(ffn.router, x, T, logits);
  const groups = groupByExpert(routeTokens(logits, T, numExperts, ffn.numExpertsPerTok, ffn.normTopkProb), numExperts);

  out.fill(0);
  for (let e = 0; e < numExperts; e++) {
    const start = groups.indptr[e]!, n = groups.indptr[e + 1]! - start;
    if (n === 0) continue;
    const expert = ffn.experts[e]!;
    const width = expert.down.cols;
    const xe = s.get('expertIn', n * hidden);
    for (let i = 0; i < n; i++) {
      const row = groups.rows[start + i]!;
      xe.set(x.subarray(row * hidden, (row + 1) * hidden), i * hidden);
    }
    const gate = s.get('gate', n * width);
    const up = s.get('up', n * width);
    matmulStack(k, expert.gateUp, xe, n, [gate, up]);
    activate(k, activation, gate, up);
    const ye = s.get('expertOut', n * hidden);
    k.matmul(expert.down, gate, n, ye);
    for (let i = 0; i < n; i++) {
      const row = groups.rows[start + i]!, w = groups.weights[start + i]!;
      const o = row * hidden, y = i * hidden;
      for (let j = 0; j < hidden; j++) out[o + j]! += w * ye[y + j]!;
    }
  }
}
