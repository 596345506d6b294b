// Instructions per multiply-add of the block-type GEMV kernels, counted by callgrind, so the
// figure does not move with the machine's load (timings here do, by 2x within minutes). Packs a
// random rows×cols matrix of a block type and runs `calls` matmuls of m rows on one thread:
//
//   valgrind --tool=callgrind --callgrind-out-file=/tmp/q.out \
//     node --import tsx bench/quant-instructions.ts q6_K 1024 1024 1 4
//   callgrind_annotate --threshold=100 /tmp/q.out | grep 'Tile<'
//
// and divide the tile function's count (QTile<T>::run<MR>, Q8Tile for q8_0) by the multiply-adds
// printed. Instructions per weight byte against the bandwidth tell whether decode is DRAM-bound.
import { addon, nativeKernels } from '../src/kernels/native.js';
import { isQuantDType, type QuantDType } from '../src/kernels/dtype.js';
import { randomQuantMatrix } from '../test/helpers/quant.js';
import { mulberry32 } from '../test/helpers/random.js';

const [dtype = 'q4_0', rowsText = '1024', colsText = '1024', mText = '1', callsText = '4'] = process.argv.slice(2);
if (!isQuantDType(dtype)) throw new Error(`not a block type: ${dtype}`);
const rows = Number(rowsText), cols = Number(colsText), m = Number(mText), calls = Number(callsText);
addon.setThreads(1);
const rng = mulberry32(1);
const w = nativeKernels.packMatrix(randomQuantMatrix(rng, dtype as QuantDType, rows, cols), dtype as QuantDType);
const x = Float32Array.from({ length: m * cols }, () => 2 * rng() - 1);
const out = new Float32Array(m * rows);
for (let i = 0; i < calls; i++) nativeKernels.matmul(w, x, m, out);
console.log(`${dtype} ${rows}x${cols} m=${m}: ${calls} calls, ${(calls * m * rows * cols) / 1e6} M multiply-adds, isa ${addon.cpuInfo().isa}`);
