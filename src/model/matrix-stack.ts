// Matrices stacked by rows (q|k|v, gate|up) so that one pass over the weight serves several
// outputs. A quantized file may give the parts different types (Q4_K_M: q and k Q4_K, v Q6_K),
// and re-encoding one into another's type would lose the file's precision or widen it, so a
// stack holds one packed matrix per run of parts that share a format.
import type { Kernels, Matrix } from '../kernels/types.js';

export interface StackPart {
  readonly w: Matrix;
  /** How many of the stack's outputs (in order) this part produces. */
  readonly outputs: number;
}

export interface MatrixStack {
  /** Parts in output order; their rows add up to the stack's. */
  readonly parts: readonly StackPart[];
}

/**
 * matmulSplit over a stack: outs[j] receives output j (see Kernels.matmulSplit); bias, when
 * given, covers all the stack's rows. One matmul per part, so one when the types agree.
 */
export function matmulStack(
  k: Kernels, stack: MatrixStack, x: Float32Array, m: number, outs: readonly Float32Array[], bias?: Float32Array,
): void {
  let out = 0, row = 0;
  for (const { w, outputs } of stack.parts) {
    k.matmulSplit(w, x, m, outs.slice(out, out + outputs), bias?.subarray(row, row + w.rows));
    out += outputs;
    row += w.rows;
  }
}

/** The packed matrices of a stack. */
export function stackMatrices(stack: MatrixStack): Matrix[] {
  return stack.parts.map((p) => p.w);
}
