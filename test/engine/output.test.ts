import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OutputText } from '../../src/engine/output.js';
import { byteTokenizer } from '../../src/model/tokenizer/byte.js';

const tok = byteTokenizer();
const ids = (s: string) => tok.encode(s, { addBos: false });

function stream(text: string, stops: string[]): { pieces: string[]; out: OutputText } {
  const out = new OutputText(tok, stops);
  const pieces: string[] = [];
  for (const id of ids(text)) {
    pieces.push(out.push(id));
    if (out.stoppedBy !== null) break;
  }
  pieces.push(out.finish());
  return { pieces, out };
}

test('without stop strings every character is released as it is decoded', () => {
  const { pieces, out } = stream('héllo wörld', []);
  assert.equal(out.text, 'héllo wörld');
  assert.equal(pieces.join(''), 'héllo wörld');
  assert.equal(out.stoppedBy, null);
});

test('a stop string ends the text before it, and none of it is ever released', () => {
  const { pieces, out } = stream('Hello END of story', ['END']);
  assert.equal(out.text, 'Hello ');
  assert.equal(out.stoppedBy, 'END');
  assert.ok(!pieces.some((p) => p.includes('E')), 'no piece of the stop string leaked');
});

test('the earliest of several stop strings wins', () => {
  const { out } = stream('abc\n\nUser: hi', ['User:', '\n\n']);
  assert.equal(out.text, 'abc');
  assert.equal(out.stoppedBy, '\n\n');
});

test('a held-back prefix that does not complete a stop string is released', () => {
  const { pieces, out } = stream('The EN', ['END']);
  assert.equal(out.text, 'The EN');
  assert.equal(pieces.at(-1), 'EN');
});
