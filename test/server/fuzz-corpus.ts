// Malformed requests for the fuzz test, as raw HTTP bytes: a fixed corpus (bad JSON, wrong
// types, out-of-range and huge numbers, unicode, wrong methods and content types, odd paths,
// bad queries, broken HTTP) and seeded mutations of valid bodies. Every request is wrong in a way
// the server must refuse: each mutation starts from one "breaker" (a field set to a value its
// schema refuses) and only adds changes that cannot repair it (unknown fields, which are
// dropped, other serializations, a missing key).

import { randomInt } from '../helpers/random.js';
import { rawRequest } from './raw-http.js';

export interface FuzzCase {
  name: string;
  data: string | Buffer;
}

/** Ids of things that exist on the server, so requests reach body and query checks. */
export interface FuzzIds {
  key: string;
  model: string;
  conversation: string;
  item: string;
  response: string;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

interface BodyRoute {
  method: 'POST';
  path: string;
  valid: { [k: string]: Json };
  /** [field path, values the schema refuses there]. */
  breakers: [(string | number)[], Json[]][];
}

// Numbers JSON.stringify cannot write: put in as text where the marker string stands.
const RAW = (text: string) => `\u0000raw:${text}`;
const HUGE = [RAW('1e999'), RAW('-1e999'), RAW('123456789012345678901234567890'), 1e308, -1e308, 2 ** 53 + 2];
const NOT_A_STRING: Json[] = [0, -1, true, null, [], {}, [1, 2], 1e308];
const NOT_A_NUMBER: Json[] = ['1', '', true, [], {}, [0.5]];
const NOT_A_BOOL: Json[] = ['yes', 1, 0, {}, []];
const UNICODE = ['🦙', 'ü', '中文', '\u0000', '\ud800', 'e\u0301', '\u202e', '\uffff', 'a'.repeat(3000)];
const BAD_ROLES: Json[] = ['robot', '', 'USER', 'tool', 'üser', 0, null, ...UNICODE.slice(0, 4)];
const BAD_METADATA: Json[] = ['x', 5, [], { k: 5 }, { k: null }, { ['k'.repeat(65)]: 'v' }, { k: 'v'.repeat(513) }, Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v']))];

function sampling(): [(string | number)[], Json[]][] {
  return [
    [['temperature'], [-0.01, 2.01, ...HUGE, ...NOT_A_NUMBER]],
    [['top_p'], [0, -0.5, 1.01, ...HUGE, 'x']],
    [['top_k'], [-2, 1.5, 'x', RAW('-1e999')]],
    [['min_p'], [-0.1, 1.1, 'x']],
    [['presence_penalty'], [-2.5, 3, 'x', ...HUGE]],
    [['frequency_penalty'], [-2.5, 3, 'x']],
    [['seed'], [1.5, 2 ** 60, -(2 ** 60), 'x', ...HUGE]],
    [['stop'], ['', [''], ['a', 'b', 'c', 'd', 'e'], 5, [5], {}]],
    [['ignore_eos'], NOT_A_BOOL],
  ];
}

function bodyRoutes(ids: FuzzIds): BodyRoute[] {
  const maxTokens: Json[] = [0, -1, 1.5, 100_000, ...HUGE, '5', true];
  return [
    {
      method: 'POST',
      path: '/v1/chat/completions',
      valid: { model: ids.model, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 1 },
      breakers: [
        [['model'], [...NOT_A_STRING, '', 'gpt-4o', ...UNICODE]],
        [['messages'], ['hi', 0, null, [], {}, [null], [1], [[]]]],
        [['messages', 0, 'role'], BAD_ROLES],
        [['messages', 0, 'content'], [0, null, true, {}, [{ type: 'image_url' }], [{ type: 'text' }], [{ type: 'text', text: 5 }]]],
        [['max_tokens'], maxTokens],
        [['max_completion_tokens'], [0, -5, 'x', ...HUGE]],
        [['n'], [0, 129, 1.5, 'x']],
        [['stream'], NOT_A_BOOL],
        [['stream_options'], ['x', 5, { include_usage: 'x' }]],
        [['logprobs'], ['x', 1]],
        [['top_logprobs'], [1, 'x', 1.5]],
        [['tools'], [[{ type: 'function' }], 'x', {}]],
        [['response_format'], [{ type: 'json_schema' }, { type: 'regex' }, 'x', {}, { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'string', pattern: 'a' } } }]],
        ...sampling(),
      ],
    },
    {
      method: 'POST',
      path: '/v1/completions',
      valid: { model: ids.model, prompt: 'Hi', max_tokens: 1 },
      breakers: [
        [['model'], [...NOT_A_STRING, 'davinci', ...UNICODE]],
        [['prompt'], [0, null, {}, [], [[]], [-1], [1.5], ['a', 'b'], [[1], [2]], [true], [2 ** 31], [99_999_999], [RAW('1e999')]]],
        [['max_tokens'], maxTokens],
        [['echo'], [true, 'x']],
        [['best_of'], [2, 'x']],
        [['logprobs'], [6, -1, 'x', true]],
        [['suffix'], ['x', 5]],
        [['n'], [0, 'x']],
        ...sampling(),
      ],
    },
    {
      method: 'POST',
      path: '/v1/responses',
      valid: { model: ids.model, input: 'Hi', max_output_tokens: 1 },
      breakers: [
        [['model'], [...NOT_A_STRING, 'gpt-4.1', ...UNICODE]],
        [['input'], [0, {}, true, [{ role: 'robot', content: 'x' }], [{ type: 'message' }], [{ role: 'user', content: [{ type: 'input_image' }] }], [5]]],
        [['instructions'], [0, {}, [], true]],
        [['previous_response_id'], ['', 0, 'resp_nope', ...UNICODE.slice(0, 3)]],
        [['conversation'], ['', 0, {}, { id: '' }, 'conv_nope', { id: 'conv_nope' }, []]],
        [['store'], NOT_A_BOOL],
        [['max_output_tokens'], maxTokens],
        [['metadata'], BAD_METADATA],
        [['tools'], [[{ type: 'web_search' }], 'x']],
        [['background'], [true, 'x']],
        [['top_logprobs'], [1, 'x']],
        [['text'], [{ format: { type: 'json_schema' } }, 'x', { format: 'x' }]],
        ...sampling(),
      ],
    },
    {
      method: 'POST',
      path: '/v1/conversations',
      valid: { metadata: { a: 'b' }, items: [{ role: 'user', content: 'x' }] },
      breakers: [
        [['metadata'], BAD_METADATA],
        [['items'], ['x', 5, {}, [5], [null], [{ role: 'robot', content: 'x' }], [{ role: 'user' }], Array.from({ length: 21 }, () => ({ role: 'user', content: 'x' }))]],
        [['items', 0, 'id'], ['', 5, {}]],
        [['items', 0, 'content'], [5, null, [{ type: 'input_image' }], [{ type: 'input_text', text: 5 }]]],
      ],
    },
    {
      method: 'POST',
      path: `/v1/conversations/${ids.conversation}`,
      valid: { metadata: { a: 'b' } },
      breakers: [[['metadata'], [...BAD_METADATA, null]]],
    },
    {
      method: 'POST',
      path: `/v1/conversations/${ids.conversation}/items`,
      valid: { items: [{ role: 'user', content: 'x' }] },
      breakers: [
        [['items'], [[], 'x', 5, null, [5], [{ role: 'robot', content: 'x' }], Array.from({ length: 21 }, () => ({ role: 'user', content: 'x' }))]],
        [['items', 0, 'id'], ['', 5, ids.item]],
        [['items', 0, 'role'], BAD_ROLES],
      ],
    },
  ];
}

function setPath(body: { [k: string]: Json }, path: (string | number)[], value: Json): void {
  let at: Json = body;
  for (const key of path.slice(0, -1)) at = (at as Record<string | number, Json>)[key]!;
  (at as Record<string | number, Json>)[path.at(-1)!] = value;
}

function serialize(body: Json): string {
  return JSON.stringify(body).replace(/"\\u0000raw:([^"]*)"/g, '$1');
}

const auth = (ids: FuzzIds) => ({ authorization: `Bearer ${ids.key}` });
const json = { 'content-type': 'application/json' };
const close = { connection: 'close' };

function post(ids: FuzzIds, path: string, body: string, headers: Record<string, string> = {}): string {
  return rawRequest('POST', path, { ...auth(ids), ...json, ...close, ...headers }, body);
}

/** Every breaker value once, on its route, plus what no body schema covers. */
export function fixedCases(ids: FuzzIds): FuzzCase[] {
  const cases: FuzzCase[] = [];
  for (const route of bodyRoutes(ids)) {
    for (const [path, values] of route.breakers) {
      // One value per breaker in the fixed corpus; the mutations draw the others.
      const body = structuredClone(route.valid);
      setPath(body, path, values[0]!);
      cases.push({ name: `${route.path} ${path.join('.')}=${serialize(values[0]!).slice(0, 40)}`, data: post(ids, route.path, serialize(body)) });
    }
    for (const text of ['', '{', '{"model":', '[]', '"text"', '42', 'true', '{"a":1}{"b":2}', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{"x":1}}}', `${'['.repeat(100_000)}${']'.repeat(100_000)}`, '\ufeff{', '{"model":"\ud800"']) {
      cases.push({ name: `${route.path} body ${JSON.stringify(text.slice(0, 20))}`, data: post(ids, route.path, text) });
    }
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'application/json-patch+json', 'json']) {
      cases.push({ name: `${route.path} content-type ${type}`, data: post(ids, route.path, serialize(route.valid), { 'content-type': type }) });
    }
  }
  const getPaths = [
    `/v1/conversations/${ids.conversation}/items?limit=0`, `/v1/conversations/${ids.conversation}/items?limit=101`,
    `/v1/conversations/${ids.conversation}/items?limit=abc`, `/v1/conversations/${ids.conversation}/items?limit=1e400`,
    `/v1/conversations/${ids.conversation}/items?limit=`, `/v1/conversations/${ids.conversation}/items?order=up`,
    `/v1/conversations/${ids.conversation}/items?after=msg_nope`, `/v1/conversations/${ids.conversation}/items?limit=1&limit=2`,
    `/v1/responses/${ids.response}/input_items?limit=-1`, `/v1/responses/${ids.response}/input_items?order=ASC`,
    `/v1/responses/${ids.response}/input_items?after=x`, '/v1/models/gpt-4o', '/v1/models/%F0%9F%A6%99',
    '/v1/responses/resp_nope', '/v1/responses/%00', `/v1/responses/${'x'.repeat(5000)}`, '/v1/responses/%zz',
    '/v1/conversations/conv_nope/items', `/v1/conversations/${ids.conversation}/items/msg_nope`, '/v1/conversations/%E4%B8%AD',
    '/v1/nope', '/V1/models', '//v1/models', '/v1/../v1/models', '/v1/models/', '/v1/models.', '/index.html', '/health/', '/metrics.',
  ];
  for (const path of getPaths) cases.push({ name: `GET ${path.slice(0, 60)}`, data: rawRequest('GET', path, { ...auth(ids), ...close }) });
  for (const path of ['/v1/responses/resp_nope', '/v1/conversations/conv_nope', `/v1/conversations/${ids.conversation}/items/msg_nope`]) {
    cases.push({ name: `DELETE ${path}`, data: rawRequest('DELETE', path, { ...auth(ids), ...close }) });
  }
  // A path some route serves, with a method it does not: 405.
  const wrongMethods: [string, string][] = [
    ['PUT', '/health'], ['POST', '/health'], ['DELETE', '/metrics'], ['POST', '/v1/models'], ['DELETE', '/v1/models/x'],
    ['GET', '/v1/chat/completions'], ['DELETE', '/v1/completions'], ['PATCH', '/v1/responses'], ['PUT', `/v1/responses/${ids.response}`],
    ['POST', `/v1/responses/${ids.response}/input_items`], ['PUT', '/v1/conversations'], ['PATCH', `/v1/conversations/${ids.conversation}`],
    ['PUT', `/v1/conversations/${ids.conversation}/items`], ['POST', `/v1/conversations/${ids.conversation}/items/${ids.item}`], ['OPTIONS', '/v1/models'],
  ];
  for (const [method, path] of wrongMethods) cases.push({ name: `${method} ${path}`, data: rawRequest(method, path, { ...auth(ids), ...close }) });
  // Keys and HTTP itself.
  cases.push(
    { name: 'no key', data: rawRequest('GET', '/v1/models', close) },
    { name: 'wrong key', data: rawRequest('GET', '/v1/models', { authorization: 'Bearer sk-wrong', ...close }) },
    { name: 'huge key', data: rawRequest('GET', '/v1/models', { authorization: `Bearer ${'k'.repeat(10_000)}`, ...close }) },
    { name: 'not HTTP', data: 'HELLO\r\n\r\n' },
    { name: 'bad version', data: 'GET /v1/models HTTP/9.9\r\nhost: x\r\n\r\n' },
    { name: 'headers too large', data: rawRequest('GET', '/v1/models', { ...auth(ids), 'x-pad': 'p'.repeat(20_000), ...close }) },
    { name: 'bad chunk', data: rawRequest('POST', '/v1/conversations', { ...auth(ids), ...json, 'transfer-encoding': 'chunked', ...close }).concat('zz\r\n{}\r\n0\r\n\r\n') },
    { name: 'declared length over the limit', data: rawRequest('POST', '/v1/responses', { ...auth(ids), ...json, 'content-length': String(2 ** 40), ...close }) },
    { name: 'length and chunked', data: rawRequest('POST', '/v1/responses', { ...auth(ids), ...json, 'content-length': '2', 'transfer-encoding': 'chunked', ...close }, '{}') },
  );
  // Bytes that are not UTF-8 where a string is expected: decoded with replacement characters.
  const notUtf8 = Buffer.from('{"model":"\xff\xfe","messages":[{"role":"\xc0\xaf","content":"x"}]}', 'latin1');
  const head = rawRequest('POST', '/v1/chat/completions', { ...auth(ids), ...json, 'content-length': String(notUtf8.length), ...close });
  cases.push({ name: 'invalid UTF-8 in model and role', data: Buffer.concat([Buffer.from(head), notUtf8]) });
  return cases;
}

/** `n` mutations from `seed`: a breaker, then harmless noise, one serialization, maybe no key. */
export function mutatedCases(ids: FuzzIds, seed: number, n: number): FuzzCase[] {
  const rand = randomInt(seed);
  const pick = <T>(xs: readonly T[]): T => xs[rand(xs.length)]!;
  const routes = bodyRoutes(ids);
  const cases: FuzzCase[] = [];
  for (let i = 0; i < n; i++) {
    const route = pick(routes);
    const [path, values] = pick(route.breakers);
    const value = pick(values);
    const body = structuredClone(route.valid);
    setPath(body, path, value);
    // Unknown fields are dropped by the schemas: noise that cannot make the body valid.
    for (let k = rand(3); k > 0; k--) body[`x_fuzz_${rand(1000)}`] = pick<Json>([...UNICODE, ...NOT_A_STRING, { deep: [[{}]] }]);
    let text = serialize(body);
    const form = rand(10);
    if (form === 0) text = text.slice(0, rand(text.length)); // a proper prefix of an object is never JSON
    else if (form === 1) text = JSON.stringify(body, null, rand(8) + 1).replace(/"\\u0000raw:([^"]*)"/g, '$1');
    else if (form === 2) text = `\ufeff${text}`;
    const headers: Record<string, string> = {};
    if (rand(12) === 0) headers.authorization = pick(['', 'Bearer', `Basic ${ids.key}`, `Bearer ${ids.key}x`]);
    if (rand(6) === 0) headers['content-type'] = pick(['application/json; charset=utf-8', 'APPLICATION/JSON', 'text/json', 'application/json;;']);
    const name = `mutation ${i}: ${route.path} ${path.join('.')}=${serialize(value).slice(0, 30)} form=${form} ${JSON.stringify(headers)}`;
    cases.push({ name, data: post(ids, route.path, text, headers) });
  }
  return cases;
}
