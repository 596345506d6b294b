// The bytes the grammar matches for each token must be the bytes the client receives: for
// every tokenizer family, the tokens' bytes (tokenBytes) joined equal the text the engine's
// output decoder emits for them mid-stream, characters split across tokens included.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { OutputText } from '../../../src/engine/output.js';
import { buildVocab } from '../../../src/engine/grammar/vocab.js';
import { byteTokenizer, loadLlama2cTokenizer, loadTokenizerFromDir, type Tokenizer } from '../../../src/model/tokenizer/index.js';
import { MODELS, SHARED } from '../../helpers/paths.js';

const TEXTS = ['{"name":"Ann","age":3}', 'héllo wörld, 你好 😀 "quoted" \\ back\nslash', ' leading  spaces\tand tabs', '{"a":[1,2.5e-3,null,true]}'];

/**
 * `fragmentsUnknown`: the tokenizer has no tokenBytes, so the decode() fallback cannot tell the
 * bytes of a token that holds part of a character; such tokens must be left out (never allowed
 * by a mask), and texts that need them are not compared.
 */
function check(name: string, tokenizer: Tokenizer, fragmentsUnknown = false): void {
  const vocab = buildVocab(tokenizer);
  const prompt = tokenizer.encode('Once upon a time');
  for (const text of TEXTS) {
    const ids = tokenizer.encode(text, { addBos: false, parseSpecial: false });
    if (fragmentsUnknown) {
      const unknown = ids.filter((id) => vocab.bytes[id] === null);
      for (const id of unknown) assert.ok(tokenizer.decode([id]).includes('\uFFFD'), `${name}: token ${id} left out but whole`);
      if (unknown.length > 0) continue;
    }
    const out = new OutputText(tokenizer, [], prompt.slice(-8));
    let emitted = '';
    for (const id of ids) emitted += out.push(id);
    emitted += out.finish();
    const joined = Buffer.concat(ids.map((id) => vocab.bytes[id] ?? new Uint8Array())).toString('utf8');
    assert.equal(joined, emitted, `${name}: ${JSON.stringify(text)}`);
  }
  for (const id of tokenizer.eosIds) assert.equal(vocab.bytes[id], null, `${name}: end-of-sequence has no bytes`);
}

test('token bytes equal the emitted text: byte-level BPE (Qwen2.5)', () => {
  check('qwen2.5', loadTokenizerFromDir(path.join(SHARED, 'tokenizers', 'qwen2.5')));
});

test('token bytes equal the emitted text: SentencePiece with byte fallback (stories260K)', () => {
  check('stories260K', loadLlama2cTokenizer(path.join(MODELS, 'stories260K', 'tok512.bin'), 512));
});

test('token bytes equal the emitted text: the demo byte tokenizer, and the decode() fallback (Hugging Face tokenizer.json)', () => {
  check('byte', byteTokenizer());
  check('tinyllama tokenizer.json', loadTokenizerFromDir(path.join(SHARED, 'tokenizers', 'tinyllama-1.1b-chat')), true);
});
