// Real GGUF vocabularies whose <unk> is typed control (3) instead of unknown (2), with or without
// byte pieces: every character tokenizes, with llama.cpp's ids wherever llama.cpp has any
// (control-unk-vectors.ts), and one unknown token per character where llama.cpp would throw.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readGguf } from '../../../src/model/formats/gguf.js';
import type { GgufValue } from '../../../src/model/formats/gguf-types.js';
import { tokenizerFromGguf } from '../../../src/model/tokenizer/gguf.js';
import { TokenType, type Tokenizer } from '../../../src/model/tokenizer/types.js';
import { MIXED, MIXED_CONTROL_UNK, PER_CHARACTER } from './control-unk-vectors.js';
import { SHARED } from './vectors.js';

const file = readGguf(SHARED + 'models/stories260K/stories260K.gguf');
const original = new Map(file.metadata);
file.tensors.close();
const tokens = original.get('tokenizer.ggml.tokens')!.value as string[];
const types = original.get('tokenizer.ggml.token_type')!.value as number[];
const UNK = 0;
const isBytePiece = (piece: string) => /^<0x[0-9A-F]{2}>$/.test(piece);

/** stories260K's vocab with the unk retyped control and each byte piece changed by `bytePiece`. */
function variant(bytePiece: (piece: string) => [string, number], extra: [string, GgufValue][] = []): Tokenizer {
  const newTokens = tokens.slice();
  const newTypes = types.slice();
  newTypes[UNK] = TokenType.Control;
  tokens.forEach((piece, id) => {
    if (isBytePiece(piece)) [newTokens[id], newTypes[id]] = bytePiece(piece);
  });
  const meta = new Map(original);
  meta.set('tokenizer.ggml.tokens', { type: 'array', itemType: 'string', value: newTokens });
  meta.set('tokenizer.ggml.token_type', { type: 'array', itemType: 'i32', value: newTypes });
  for (const [key, value] of extra) meta.set(key, value);
  return tokenizerFromGguf(meta, 'variant.gguf');
}

const encode = (tok: Tokenizer, text: string) => tok.encode(text, { addBos: false, parseSpecial: false });

/** What the vocab without byte pieces must give: each character's run of byte pieces becomes one unk. */
function bytesToUnk(ids: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < ids.length; ) {
    const id = ids[i]!;
    const byte = id - 3; // stories260K: <0x00> is id 3
    if (byte < 0 || byte > 255) {
      out.push(id);
      i++;
      continue;
    }
    out.push(UNK);
    i += byte < 0x80 ? 1 : byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2;
  }
  return out;
}

describe('a SentencePiece vocab whose unknown token is typed control', () => {
  test('the mixed string covers punctuation, tab, newline, Latin-1, CJK, Hangul and emoji', () => {
    for (const c of ['(', '[', '@', '\t', '\n', 'é', 'ß', '中', '한', '😀']) assert.ok(MIXED.includes(c), c);
    assert.equal(PER_CHARACTER.length, new Set(Array.from(MIXED)).size);
  });

  const withBytes = variant((piece) => [piece, TokenType.Byte]);
  test('with byte pieces: every character and the whole string give llama.cpp ids', () => {
    for (const [char, ids] of PER_CHARACTER) assert.deepEqual(encode(withBytes, char), ids, JSON.stringify(char));
    assert.deepEqual(encode(withBytes, MIXED), MIXED_CONTROL_UNK);
    assert.equal(withBytes.decode(encode(withBytes, MIXED)), MIXED);
  });

  const normalBytes = variant((piece) => [piece, TokenType.Normal]);
  test('byte pieces typed normal are found by their text, as llama.cpp does', () => {
    for (const [char, ids] of PER_CHARACTER) assert.deepEqual(encode(normalBytes, char), ids, JSON.stringify(char));
    assert.deepEqual(encode(normalBytes, MIXED), MIXED_CONTROL_UNK);
  });

  const noBytes = variant((piece) => [piece.replace('0x', '__'), TokenType.Unused]);
  test('without byte pieces: llama.cpp ids where it has them, one unk per missing character where it throws', () => {
    let unknown = 0;
    for (const [char, withBytesIds, llamaCpp] of PER_CHARACTER) {
      const got = encode(noBytes, char);
      if (llamaCpp !== null) {
        assert.deepEqual(got, llamaCpp, JSON.stringify(char));
      } else {
        assert.deepEqual(got, bytesToUnk(withBytesIds), JSON.stringify(char));
        assert.ok(got.includes(UNK), JSON.stringify(char));
        unknown++;
      }
    }
    assert.ok(unknown >= 20, `${unknown} characters missing from the vocab`);
    const ids = encode(noBytes, MIXED);
    assert.deepEqual(ids, bytesToUnk(MIXED_CONTROL_UNK));
    // The unk is a control token here: it decodes to its text, or to nothing when specials are skipped.
    assert.match(noBytes.decode(ids), /<unk>/);
    assert.doesNotMatch(noBytes.decode(ids, { skipSpecial: true }), /<unk>/);
  });

  test('the unk comes from unknown_token_id whatever its type, else id 0; a bad id does not refuse the file', () => {
    const noBytesUnk = (id: GgufValue) =>
      variant((piece) => [piece.replace('0x', '__'), TokenType.Unused], [['tokenizer.ggml.unknown_token_id', id]]);
    assert.deepEqual(encode(noBytesUnk({ type: 'u32', value: 2 }), '中'), [410, 2]);
    assert.deepEqual(encode(noBytesUnk({ type: 'u32', value: 4294967295 }), '中'), [410, UNK]);
  });

  test('text never turns into the control-typed unk unless specials are parsed', () => {
    assert.ok(!encode(withBytes, '<unk>').includes(UNK));
    assert.deepEqual(withBytes.encode('<unk>', { addBos: false, parseSpecial: true }), [UNK]);
  });
});
