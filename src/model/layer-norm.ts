// LayerNorm with bias and ReLU, for OPT. Both are O(tokens · hidden), small beside the matmuls
// around them, so they run here in TypeScript rather than as native kernels (a follow-up if OPT
// decode ever shows them in a profile).

/** Row-wise over rows of weight.length: out = (x − mean) / sqrt(var + eps) · weight + bias (torch.nn.LayerNorm). out may be x. */
export function layerNorm(x: Float32Array, weight: Float32Array, bias: Float32Array, eps: number, out: Float32Array): void {
  const d = weight.length;
  for (let r = 0; r < x.length; r += d) {
    let mean = 0;
    for (let i = 0; i < d; i++) mean += x[r + i]!;
    mean /= d;
    let variance = 0;
    for (let i = 0; i < d; i++) variance += (x[r + i]! - mean) ** 2;
    const inv = 1 / Math.sqrt(variance / d + eps);
    for (let i = 0; i < d; i++) out[r + i] = (x[r + i]! - mean) * inv * weight[i]! + bias[i]!;
  }
}

/** x = max(x, 0) in place. */
export function relu(x: Float32Array): void {
  for (let i = 0; i < x.length; i++) if (!(x[i]! > 0)) x[i] = 0;
}
