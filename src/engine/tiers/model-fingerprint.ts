// What names a model's KV on disk across restarts. The model id alone is not enough: two
// fine-tunes saved under the same file name have the same id and shape but different KV,
// and a chunk of one must never be served to the other. So the fingerprint covers the
// id, the config, and the size and modification time of every file the weights came from; and,
// where the RoPE tables depend on the context served (LongRoPE, dynamic NTK), the tables that
// context gave, since K rotated under one set is wrong under the other.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import type { LoadedModel } from '../../model/load.js';
import { ropeDependsOnContext, ropeInvFreq } from '../../model/rope.js';

export function modelFingerprint(model: LoadedModel): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ id: model.id, source: model.source, format: model.format, config: model.config }));
  if (ropeDependsOnContext(model.config)) {
    h.update(`\nrope:${Array.from(ropeInvFreq(model.config, model.transformer.contextLength)).join(',')}`);
  }
  for (const f of sourceFiles(model.source)) {
    const st = fs.statSync(f, { throwIfNoEntry: false });
    if (st?.isFile()) h.update(`\n${nodePath.basename(f)}:${st.size}:${st.mtimeMs}`);
  }
  return `${model.id}@${h.digest('hex').slice(0, 16)}`;
}

/** The files of a model path: the file itself, or a directory's entries. */
function sourceFiles(source: string): string[] {
  const st = fs.statSync(source, { throwIfNoEntry: false });
  if (st === undefined) return []; // the built-in demo model, or a model built in memory
  if (!st.isDirectory()) return [source];
  return fs.readdirSync(source).sort().map((name) => nodePath.join(source, name));
}
