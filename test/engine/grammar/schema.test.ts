// The schema compiler and the automaton, over bytes: which texts a compiled schema accepts in
// full, which it refuses, and which schema features it refuses by name.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { advanceBytes, initialStacks, isAccepting } from '../../../src/engine/grammar/automaton.js';
import type { Grammar } from '../../../src/engine/grammar/grammar.js';
import { SchemaError, anyObjectGrammar, compileSchema } from '../../../src/engine/grammar/schema.js';

const enc = new TextEncoder();

/** Whether the grammar accepts `text` as a complete value. */
function accepts(g: Grammar, text: string): boolean {
  const s = advanceBytes(g, initialStacks(g), enc.encode(text));
  return s !== null && isAccepting(s);
}

/** Whether `text` can still be extended to a value (the byte-level prefix property). */
function viablePrefix(g: Grammar, text: string): boolean {
  return advanceBytes(g, initialStacks(g), enc.encode(text)) !== null;
}

test('an object with required and optional properties: declared order, commas only between present members', () => {
  const g = compileSchema({
    type: 'object',
    properties: { a: { type: 'integer' }, b: { type: 'string' }, c: { type: 'boolean' } },
    required: ['b'],
    additionalProperties: false,
  });
  for (const ok of ['{"b":""}', '{"a":1,"b":"x"}', '{"b":"x","c":true}', '{"a":-20,"b":"é\\n","c":false}']) assert.ok(accepts(g, ok), ok);
  for (const bad of ['{}', '{"a":1}', '{"b":"x",}', '{"b":"x","a":1}', '{,"b":"x"}', '{"b":"x"} ', ' {"b":"x"}', '{"b":"x","d":1}', '{"b":x}']) {
    assert.ok(!accepts(g, bad), bad);
  }
  assert.ok(viablePrefix(g, '{"a":12'));
  assert.ok(!viablePrefix(g, '{"a":012'));
});

test('all-optional properties: any subset in order, the empty object included', () => {
  const g = compileSchema({ type: 'object', properties: { x: { type: 'null' }, y: { type: 'null' } } });
  for (const ok of ['{}', '{"x":null}', '{"y":null}', '{"x":null,"y":null}']) assert.ok(accepts(g, ok), ok);
  for (const bad of ['{,}', '{"y":null,"x":null}', '{"x":null,}', '{,"y":null}']) assert.ok(!accepts(g, bad), bad);
});

test('strings: escapes, UTF-8 well-formedness, minLength/maxLength in code points', () => {
  const g = compileSchema({ type: 'string', minLength: 2, maxLength: 3 });
  for (const ok of ['"ab"', '"abc"', '"\\"\\\\"', '"\\u00e9x"', '"😀😀😀"', '"a\\nb"']) assert.ok(accepts(g, ok), ok);
  for (const bad of ['"a"', '"abcd"', '"a\nb"', '"\\x41b"', '"\\ud800b"', '"ab']) assert.ok(!accepts(g, bad), bad);
  const bytes = (arr: number[]) => advanceBytes(g, initialStacks(g), Uint8Array.from(arr));
  assert.equal(bytes([0x22, 0xc0, 0x80]), null, 'overlong encoding');
  assert.equal(bytes([0x22, 0xed, 0xa0, 0x80]), null, 'UTF-8 surrogate');
  assert.equal(bytes([0x22, 0xf4, 0x90, 0x80, 0x80]), null, 'past U+10FFFF');
  assert.notEqual(bytes([0x22, 0xe2, 0x82]), null, 'a character in the middle is a viable prefix');
});

test('integer bounds: exactly the integers in range, for many ranges', () => {
  const ranges: Array<[number, number]> = [[0, 0], [-5, 5], [1, 9], [10, 99], [7, 123], [-130, -7], [95, 1005], [-1, 0], [199, 201]];
  for (const [lo, hi] of ranges) {
    const g = compileSchema({ type: 'integer', minimum: lo, maximum: hi });
    for (let v = lo - 30; v <= hi + 30; v++) assert.equal(accepts(g, String(v)), v >= lo && v <= hi, `[${lo},${hi}] ${v}`);
    assert.ok(!accepts(g, `0${Math.abs(hi)}`) || hi === 0, `leading zero in [${lo},${hi}]`);
    assert.ok(!accepts(g, '-0'));
  }
  const ex = compileSchema({ type: 'integer', exclusiveMinimum: 2, exclusiveMaximum: 5 });
  assert.deepEqual([1, 2, 3, 4, 5, 6].filter((v) => accepts(ex, String(v))), [3, 4]);
  const half = compileSchema({ type: 'number', minimum: 0.5, maximum: 3 });
  assert.deepEqual([0, 1, 2, 3, 4].filter((v) => accepts(half, String(v))), [1, 2, 3]);
});

test('numbers without bounds: JSON numbers, at most 15 integer digits', () => {
  const g = compileSchema({ type: 'number' });
  for (const ok of ['0', '-0', '12.5', '1e5', '-3.25E-12', '999999999999999']) assert.ok(accepts(g, ok), ok);
  for (const bad of ['01', '1.', '.5', '+1', '1e', '1e123', '9999999999999999', 'NaN']) assert.ok(!accepts(g, bad), bad);
  const i = compileSchema({ type: 'integer' });
  assert.ok(accepts(i, '-42'));
  assert.ok(!accepts(i, '4.2'));
});

test('arrays: minItems/maxItems, items schema, the empty array', () => {
  const g = compileSchema({ type: 'array', items: { enum: ['x', 1] }, minItems: 1, maxItems: 3 });
  for (const ok of ['["x"]', '[1,"x"]', '[1,1,1]']) assert.ok(accepts(g, ok), ok);
  for (const bad of ['[]', '[1,1,1,1]', '["y"]', '[1,]', '[,1]']) assert.ok(!accepts(g, bad), bad);
  const any = compileSchema({ type: 'array' });
  assert.ok(accepts(any, '[]'));
  assert.ok(accepts(any, '[{"a":[1,null]},"s",true]'));
  const none = compileSchema({ type: 'array', maxItems: 0 });
  assert.ok(accepts(none, '[]'));
  assert.ok(!accepts(none, '[1]'));
});

test('enum, const, anyOf, nullable type lists', () => {
  assert.ok(accepts(compileSchema({ enum: ['a', 2, null, { k: [1] }] }), '{"k":[1]}'));
  assert.ok(!accepts(compileSchema({ enum: ['a', 2] }), '"b"'));
  assert.ok(accepts(compileSchema({ const: 'fixed' }), '"fixed"'));
  const any = compileSchema({ anyOf: [{ type: 'string', maxLength: 1 }, { type: 'object', properties: { a: { type: 'integer' } }, required: ['a'] }] });
  assert.ok(accepts(any, '"q"'));
  assert.ok(accepts(any, '{"a":3}'));
  assert.ok(!accepts(any, '"qq"'));
  const nullable = compileSchema({ type: ['string', 'null'], maxLength: 2 });
  assert.ok(accepts(nullable, 'null'));
  assert.ok(accepts(nullable, '"ab"'));
  assert.ok(!accepts(nullable, '"abc"'));
  assert.ok(accepts(compileSchema({ type: 'string', enum: ['a', 1] }), '"a"'));
  assert.ok(!accepts(compileSchema({ type: 'string', enum: ['a', 1] }), '1'), 'enum values of another type are left out');
});

test('$ref into $defs, recursive schemas included', () => {
  const tree = {
    $defs: {
      node: {
        type: 'object',
        properties: { v: { type: 'integer' }, kids: { type: 'array', items: { $ref: '#/$defs/node' }, maxItems: 2 } },
        required: ['v', 'kids'],
        additionalProperties: false,
      },
    },
    $ref: '#/$defs/node',
  };
  const g = compileSchema(tree);
  assert.ok(accepts(g, '{"v":1,"kids":[]}'));
  assert.ok(accepts(g, '{"v":1,"kids":[{"v":2,"kids":[{"v":3,"kids":[]}]},{"v":4,"kids":[]}]}'));
  assert.ok(!accepts(g, '{"v":1,"kids":[{"v":2}]}'));
  const defs = compileSchema({ definitions: { s: { type: 'string' } }, type: 'object', properties: { a: { $ref: '#/definitions/s' } }, required: ['a'] });
  assert.ok(accepts(defs, '{"a":"x"}'));
});

test('json_object: any JSON object, nothing else', () => {
  const g = anyObjectGrammar();
  for (const ok of ['{}', '{"a":1}', '{"a":{"b":[1,2,{"c":null}]},"d":"e"}']) assert.ok(accepts(g, ok), ok);
  for (const bad of ['[]', '"x"', '1', '{"a"}', '{a:1}']) assert.ok(!accepts(g, bad), bad);
});

test('unsupported features are refused by name, with where they sit', () => {
  const cases: Array<[unknown, string]> = [
    [{ type: 'string', pattern: '^a$' }, 'pattern'],
    [{ type: 'string', format: 'date-time' }, 'format'],
    [{ allOf: [{ type: 'string' }] }, 'allOf'],
    [{ oneOf: [{ type: 'string' }] }, 'oneOf'],
    [{ not: { type: 'string' } }, 'not'],
    [{ type: 'number', multipleOf: 2 }, 'multipleOf'],
    [{ type: 'array', uniqueItems: true }, 'uniqueItems'],
    [{ type: 'array', prefixItems: [] }, 'prefixItems'],
    [{ type: 'array', items: [{ type: 'string' }] }, 'items'],
    [{ type: 'object', patternProperties: {} }, 'patternProperties'],
    [{ type: 'object', properties: { a: { type: 'string', pattern: 'x' } } }, 'pattern'],
    [{ $ref: 'https://example.com/s.json' }, '$ref'],
    [{ $ref: '#/$defs/missing' }, '$ref'],
    [{ type: 'date' }, 'type'],
    [{ type: 'integer', minimum: 5, maximum: 4 }, 'minimum'],
    [{ type: 'object', properties: {}, required: ['a'] }, 'required'],
    [{ type: 'array', maxItems: 100000 }, 'maxItems'],
  ];
  for (const [schema, feature] of cases) {
    assert.throws(() => compileSchema(schema), (err: unknown) => {
      assert.ok(err instanceof SchemaError, String(err));
      assert.equal(err.feature, feature, err.message);
      return true;
    }, JSON.stringify(schema));
  }
  const e = (() => { try { compileSchema({ type: 'object', properties: { code: { type: 'string', pattern: 'x' } } }); } catch (err) { return err as Error; } return null; })();
  assert.match(e!.message, /'pattern'.*#\/properties\/code/);
});

test('a large enum is a trie: live stacks are the next byte\'s choices (10 digits), not the 500 values', () => {
  const values = Array.from({ length: 500 }, (_, i) => `item-${i}`);
  const g = compileSchema({ enum: values });
  const state = advanceBytes(g, initialStacks(g), enc.encode('"item-'));
  assert.ok(state !== null && state.length === 10, `${state?.length} stacks`);
  for (const v of ['item-0', 'item-7', 'item-499', 'item-42']) assert.ok(accepts(g, JSON.stringify(v)), v);
  for (const v of ['item-500', 'item-', 'item-0499', 'item']) assert.ok(!accepts(g, JSON.stringify(v)), v);
});
