// The roofline probes of native/probe.cc (bench/kernels.ts judges kernels against them): on
// every SIMD path this CPU has, each probe answers a positive figure no faster than the
// instruction it names could possibly run, and names an instruction of that ISA; on the scalar
// path they answer 0 and name none. The bounds are loose on purpose (the machine is shared, so a
// probe may get a quarter of a core), but an op count off by a factor of a few, a loop the
// compiler hoisted away, or a path that silently answers 0 (issue 12: AVX2 machines did) fails.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { addon } from '../../src/kernels/native.js';
import { forEachIsa } from './isa.js';

after(() => addon.setMaxIsa('avx512'));

const threads = addon.cpuInfo().threads;
const MAX_GHZ = 6;
/** Ops a thread could issue per cycle at best: two vector pipes of the instruction. */
const opsPerCycle = (instruction: string) => {
  const lanes = instruction.includes('zmm') ? 16 : 8;  // 32-bit lanes
  if (instruction.startsWith('vfmadd231ps')) return 2 * 2 * lanes;  // 2 flops a lane, 2 FMA pipes
  if (instruction.startsWith('vpdpbusd')) return 2 * 8 * lanes;  // 4 MACs a lane
  if (instruction.startsWith('vpmaddubsw')) return 2 * 8 * lanes;  // 4 MACs a lane if the triple ran at 2 a cycle
  if (instruction.startsWith('vdpbf16ps')) return 2 * 4 * lanes;  // 2 MACs a lane
  if (instruction.startsWith('tdpbf16ps')) return 2 * 16 * 16 * 32 / 16;  // one AMX unit: a 16×16×32 tile every 16 cycles
  throw new Error(`unknown probe instruction '${instruction}'`);
};

describe('roofline probes', () => {
  it('answer a plausible figure for the instruction they name on every ISA path', () => {
    forEachIsa((isa) => {
      const bwName = addon.probeInstruction('bw');
      const bw = addon.probeReadBandwidth(32 << 20, 2);
      if (isa === 'scalar') {
        assert.equal(bw, 0, 'scalar: no read probe');
        assert.equal(bwName, '');
        for (const kind of ['bf16', 'int8', 'f32'] as const) {
          assert.equal(addon.probeFlops(kind, 1000), 0, `scalar: no ${kind} probe`);
          assert.equal(addon.probeInstruction(kind), '');
        }
        return;
      }
      const reg = isa === 'avx512' ? 'zmm' : 'ymm';
      assert.match(bwName, new RegExp(`${reg} loads`), `${isa} read probe`);
      assert.ok(bw > 0.5 && bw < 5000, `${isa}: read bandwidth ${bw} GB/s`);
      const cpu = addon.cpuInfo();
      for (const kind of ['bf16', 'int8', 'f32'] as const) {
        const name = addon.probeInstruction(kind);
        const gops = addon.probeFlops(kind, 200_000);
        // The AVX-512 path without BF16/VNNI runs the AVX2 kernels (matmul.cc's pick_kernel).
        const wide = isa === 'avx512' && (kind === 'f32' || (kind === 'bf16' ? cpu.avx512bf16 : cpu.avx512vnni));
        // With AMX the bf16 matmul of prefill-sized m runs tdpbf16ps, and so does the probe.
        const amx = isa === 'avx512' && kind === 'bf16' && cpu.amxbf16;
        assert.ok(amx ? name.startsWith('tdpbf16ps') : name.includes(wide ? 'zmm' : 'ymm'), `${isa} ${kind}: instruction '${name}'`);
        if (kind === 'bf16' && !wide) assert.match(name, /^vfmadd231ps ymm/, 'the AVX2 bf16 kernel widens to f32: its ceiling is the FMA');
        const ceiling = threads * opsPerCycle(name) * MAX_GHZ;
        assert.ok(gops > 1 && gops < ceiling, `${isa} ${kind} [${name}]: ${gops} GOP/s (ceiling ${ceiling})`);
      }
    });
  });

  it('answers 0 for a buffer too small to stream', () => {
    assert.equal(addon.probeReadBandwidth(4096, 1), 0);
  });
});
