// Access to the shared tokenizer fixtures (../shared/tokenizers, never copied into the repo)
// and llama.cpp's tokenizer test vectors: `.inp` holds the texts, separated by
// "\n__ggml_vocab_test__\n"; `.out` holds one line of ids per text, without BOS.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const SHARED = fileURLToPath(new URL('../../../../shared/', import.meta.url));
export const TOKENIZERS = SHARED + 'tokenizers/';

export interface Vector {
  text: string;
  ids: number[];
}

/** Reads `<base>.inp` / `<base>.out` under ../shared/tokenizers. */
export function readVectors(base: string): Vector[] {
  const texts = readFileSync(TOKENIZERS + base + '.inp', 'utf8').split('\n__ggml_vocab_test__\n');
  if (texts.at(-1) !== '') throw new Error(`${base}.inp does not end with the separator`);
  texts.pop();
  const lines = readFileSync(TOKENIZERS + base + '.out', 'utf8').split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (lines.length !== texts.length) {
    throw new Error(`${base}: ${texts.length} texts but ${lines.length} id lines`);
  }
  return texts.map((text, i) => ({
    text,
    ids: lines[i]!.trim() === '' ? [] : lines[i]!.trim().split(/\s+/).map(Number),
  }));
}

export interface SentencePieceModel {
  pieces: string[];
  scores: number[];
  types: number[];
}

/**
 * Reads the pieces of a SentencePiece `tokenizer.model` (a ModelProto protobuf: field 1 is a
 * repeated {1: piece, 2: score, 3: type}). The piece types come straight from the model file,
 * so GGUF-style metadata built from it does not depend on the code under test.
 */
export function readSentencePieceModel(path: string): SentencePieceModel {
  const buf = readFileSync(path);
  const out: SentencePieceModel = { pieces: [], scores: [], types: [] };
  const utf8 = new TextDecoder();
  let pos = 0;
  const varint = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = buf[pos++]!;
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return result;
      shift += 7;
    }
  };
  const skip = (wire: number) => {
    if (wire === 0) varint();
    else if (wire === 1) pos += 8;
    else if (wire === 2) {
      const len = varint(); // read before pos: `pos += varint()` would use the old pos
      pos += len;
    }
    else if (wire === 5) pos += 4;
    else throw new Error(`unexpected protobuf wire type ${wire}`);
  };
  while (pos < buf.length) {
    const key = varint();
    if (key >>> 3 !== 1 || (key & 7) !== 2) {
      skip(key & 7);
      continue;
    }
    const len = varint();
    const end = pos + len;
    let piece = '';
    let score = 0;
    let type = 1; // NORMAL is the proto default
    while (pos < end) {
      const k = varint();
      const field = k >>> 3;
      if (field === 1) {
        const len = varint();
        piece = utf8.decode(buf.subarray(pos, pos + len));
        pos += len;
      } else if (field === 2) {
        score = buf.readFloatLE(pos);
        pos += 4;
      } else if (field === 3) {
        type = varint();
      } else {
        skip(k & 7);
      }
    }
    out.pieces.push(piece);
    out.scores.push(score);
    out.types.push(type);
  }
  return out;
}
