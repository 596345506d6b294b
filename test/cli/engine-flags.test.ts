// The engine flags shared by `serve` and `chat`: defaults and the one-line errors for bad values.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { engineOptions } from '../../src/cli/engine-flags.js';

test('--kv-dtype defaults to auto, takes f32 and bf16, and rejects anything else', () => {
  assert.equal(engineOptions({}).kvDType, 'auto');
  assert.equal(engineOptions({ 'kv-dtype': 'bf16' }).kvDType, 'bf16');
  assert.equal(engineOptions({ 'kv-dtype': 'f32' }).kvDType, 'f32');
  assert.throws(() => engineOptions({ 'kv-dtype': 'f16' }), /--kv-dtype must be one of auto, f32, bf16, got 'f16'/);
});

test('--cache-mode and --eviction reject unknown values with the accepted ones', () => {
  assert.throws(() => engineOptions({ 'cache-mode': 'lru' }), /--cache-mode must be one of pensieve, prefix, stateless/);
  assert.throws(() => engineOptions({ eviction: 'fifo' }), /--eviction must be one of retention, lru/);
});

test('--max-model-len is an integer of at least 2, absent by default (the engine decides)', () => {
  assert.equal(engineOptions({}).maxModelLen, undefined);
  assert.equal(engineOptions({ 'max-model-len': '4096' }).maxModelLen, 4096);
  assert.throws(() => engineOptions({ 'max-model-len': '1.5' }), /--max-model-len must be an integer/);
  assert.throws(() => engineOptions({ 'max-model-len': '1' }), /--max-model-len must be in \[2, inf\]/);
});

test('--shared-kv takes a Redis URL in pensieve mode, with an optional --shared-kv-timeout', () => {
  assert.equal(engineOptions({}).sharedKv, undefined);
  const o = engineOptions({ 'shared-kv': 'redis://127.0.0.1:6379/1', 'shared-kv-timeout': '500' });
  assert.equal(o.sharedKv, 'redis://127.0.0.1:6379/1');
  assert.equal(o.sharedKvTimeoutMs, 500);
  assert.throws(() => engineOptions({ 'shared-kv': 'localhost:6379' }), /--shared-kv must be a redis:\/\/ or rediss:\/\/ URL/);
  assert.throws(() => engineOptions({ 'shared-kv': 'redis://127.0.0.1:6379', 'cache-mode': 'prefix' }), /--shared-kv needs --cache-mode pensieve/);
  assert.throws(() => engineOptions({ 'shared-kv-timeout': '0' }), /--shared-kv-timeout must be in \[1, inf\]/);
});
