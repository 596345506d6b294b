// Rotary embedding frequencies, with the context-extension schemes folded in,
// so the rope kernel only ever sees one table of inverse frequencies.
import type { ModelConfig } from './config.js';

/** inv_freq[j] = theta^(-2j/headDim), adjusted for llama3/linear scaling and GGUF rope_freqs factors. */
export function ropeInvFreq(config: ModelConfig): Float32Array {
  const { headDim, ropeTheta, ropeScaling } = config;
  const half = headDim / 2;
  const inv = new Float64Array(half);
  for (let j = 0; j < half; j++) inv[j] = 1 / ropeTheta ** ((2 * j) / headDim);

  if (ropeScaling?.type === 'linear') {
    for (let j = 0; j < half; j++) inv[j] = inv[j]! / ropeScaling.factor;
  } else if (ropeScaling?.type === 'llama3') {
    // Hugging Face's _compute_llama3_parameters: long wavelengths are slowed by
    // `factor`, short ones kept, the band between interpolated smoothly.
    const { factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings: oldLen } = ropeScaling;
    const lowFreqWavelen = oldLen / lowFreqFactor;
    const highFreqWavelen = oldLen / highFreqFactor;
    for (let j = 0; j < half; j++) {
      const wavelen = (2 * Math.PI) / inv[j]!;
      if (wavelen > lowFreqWavelen) inv[j] = inv[j]! / factor;
      else if (wavelen >= highFreqWavelen) {
        const smooth = (oldLen / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
        inv[j] = ((1 - smooth) * inv[j]!) / factor + smooth * inv[j]!;
      }
    }
  }
  // GGUF files of llama3-scaled models carry the scaling as per-pair divisors.
  const factors = config.ropeFreqFactors;
  if (factors) for (let j = 0; j < half; j++) inv[j] = inv[j]! / factors[j]!;
  return Float32Array.from(inv);
}
