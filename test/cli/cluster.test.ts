// `pensieve cluster`'s command line and HAProxy configuration: its own flags are picked out and
// every other flag goes to each replica unchanged; the shipped template renders into a
// configuration HAProxy accepts, and bad input is refused before HAProxy sees it; a cluster
// whose replicas cannot start says why and cleans up after itself.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { splitClusterArgs } from '../../src/cli/cluster.js';
import { LUA_FILE, renderHaproxyConfig } from '../../src/cluster/haproxy-config.js';
import { checkHaproxyConfig } from '../../src/cluster/haproxy.js';
import { NO_HAPROXY } from '../helpers/haproxy.js';
import { CLI } from '../helpers/paths.js';

test('the cluster keeps its own flags and hands every other one to the replicas, in order', () => {
  const { own, serve } = splitClusterArgs([
    '--replicas', '2', '--model', 'm.gguf', '--port=9000', '--store', 'postgres://u@h/db', '--kv-cache-memory=64M', '--metrics-public', '--shared-kv', 'redis://h', '-h',
  ]);
  assert.deepEqual(own, { replicas: '2', port: '9000', store: 'postgres://u@h/db', 'shared-kv': 'redis://h', help: true });
  assert.deepEqual(serve, ['--model', 'm.gguf', '--kv-cache-memory=64M', '--metrics-public']);
  assert.throws(() => splitClusterArgs(['--replica-name', 'x']), /set by pensieve cluster/);
  assert.throws(() => splitClusterArgs(['--replicas']), /needs a value/);
});

test('the template renders with every placeholder filled, and refuses what would break the config', () => {
  const config = renderHaproxyConfig({ bind: '127.0.0.1:8000', servers: [{ name: 'r0', address: '127.0.0.1:9001' }, { name: 'r1', address: 'host-b:9001' }], statsSocket: '/tmp/x/haproxy.sock' });
  assert.doesNotMatch(config, /\{\{/);
  assert.match(config, /^ {4}server r0 127\.0\.0\.1:9001\n {4}server r1 host-b:9001$/m);
  assert.match(config, new RegExp(`lua-load ${LUA_FILE.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  assert.match(config, /balance hash req\.hdr\(x-pensieve-route-key\)/);
  const base = { bind: '127.0.0.1:8000', servers: [{ name: 'r0', address: '127.0.0.1:9001' }], statsSocket: '/tmp/s' };
  assert.throws(() => renderHaproxyConfig({ ...base, servers: [] }), /at least one/);
  assert.throws(() => renderHaproxyConfig({ ...base, servers: [{ name: 'r 0', address: '127.0.0.1:1' }] }), /server name/);
  assert.throws(() => renderHaproxyConfig({ ...base, servers: [{ name: 'r0', address: '1.2.3.4' }] }), /host:port/);
  assert.throws(() => renderHaproxyConfig({ ...base, servers: [base.servers[0]!, base.servers[0]!] }), /twice/);
  assert.throws(() => renderHaproxyConfig({ ...base, statsSocket: '/tmp/a b' }), /no spaces/);
  assert.throws(() => renderHaproxyConfig(base, 'bind {{BIND}} {{NOPE}}'), /unknown placeholder/);
  assert.throws(() => renderHaproxyConfig(base, 'bind {{BIND}}'), /lacks/);
});

test('HAProxy 2.6 accepts the rendered configuration', { skip: NO_HAPROXY }, (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pensieve-haproxy-check-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'haproxy.cfg');
  writeFileSync(file, renderHaproxyConfig({ bind: '127.0.0.1:8000', servers: [{ name: 'r0', address: '127.0.0.1:9001' }], statsSocket: path.join(dir, 's') }));
  checkHaproxyConfig(file);
  writeFileSync(file, 'frontend x\n  no-such-directive 1\n');
  assert.throws(() => checkHaproxyConfig(file), /refuses/);
});

test('a cluster whose replicas cannot start says why and leaves no run dir behind', { skip: NO_HAPROXY }, async () => {
  const before = new Set(readdirSync(tmpdir()).filter((n) => n.startsWith('pensieve-cluster-')));
  const run = promisify(execFile)(process.execPath, [CLI, 'cluster', '--replicas', '2', '--port', '1', '--no-such-flag']);
  await assert.rejects(run, (err: { code: number; stderr: string }) => {
    assert.equal(err.code, 1);
    assert.match(err.stderr, /pensieve: error: cluster failed to start: replica r\d exited with status 1 before listening/);
    assert.match(err.stderr, /no-such-flag/);
    return true;
  });
  const left = readdirSync(tmpdir()).filter((n) => n.startsWith('pensieve-cluster-') && !before.has(n));
  assert.deepEqual(left, []);
  await assert.rejects(promisify(execFile)(process.execPath, [CLI, 'cluster', '--haproxy', '/nonexistent/haproxy']), /cannot run '\/nonexistent\/haproxy'/);
});
