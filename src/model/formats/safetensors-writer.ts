// Writes a safetensors file as the reference implementation does: tensors ordered by dtype size
// (largest first) then name, so every tensor starts aligned to its element size, and the JSON
// header padded with spaces so the data block starts on an 8-byte boundary.

import * as fs from 'node:fs';
import { byteSize, type TensorDType } from '../../kernels/dtype.js';
import { elementCount, shapeText, type RawTensor } from './tensor.js';

const NAMES: Partial<Record<TensorDType, [name: string, bytes: number]>> = { f32: ['F32', 4], f16: ['F16', 2], bf16: ['BF16', 2] };

export function writeSafetensors(path: string, tensors: readonly RawTensor[], metadata?: Record<string, string>): void {
  const dtypeOf = (t: RawTensor): [string, number] => {
    const d = NAMES[t.dtype];
    if (!d) throw new Error(`tensor ${t.name}: safetensors cannot hold ${t.dtype}`);
    return d;
  };
  const ordered = [...tensors].sort((a, b) => dtypeOf(b)[1] - dtypeOf(a)[1] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of ordered) {
    const need = byteSize(t.dtype, elementCount(t.shape));
    if (t.data.byteLength !== need) throw new Error(`tensor ${t.name}: ${t.data.byteLength} bytes given, ${t.dtype} ${shapeText(t.shape)} needs ${need}`);
    if (t.name in header) throw new Error(`tensor ${t.name} given twice`);
    header[t.name] = { dtype: dtypeOf(t)[0], shape: t.shape, data_offsets: [offset, offset + need] };
    offset += need;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Math.ceil((8 + json.byteLength) / 8) * 8 - 8;
  json = Buffer.concat([json, Buffer.alloc(padded - json.byteLength, ' ')]);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.byteLength));

  const fd = fs.openSync(path, 'w');
  try {
    fs.writeSync(fd, length);
    fs.writeSync(fd, json);
    for (const t of ordered) fs.writeSync(fd, t.data);
  } finally {
    fs.closeSync(fd);
  }
}
