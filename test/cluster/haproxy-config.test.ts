// The HAProxy configuration `pensieve cluster` writes: affinity by default, round robin (the
// benchmark's baseline) on request; both are valid configurations for the installed HAProxy.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { renderHaproxyConfig } from '../../src/cluster/haproxy-config.js';
import { checkHaproxyConfig, haproxyVersion } from '../../src/cluster/haproxy.js';

const input = { bind: '127.0.0.1:18000', servers: [{ name: 'r0', address: '127.0.0.1:18001' }, { name: 'r1', address: '127.0.0.1:18002' }], statsSocket: '/tmp/pensieve-test.sock' };

test('affinity balances by routing key; roundrobin replaces exactly those lines', { skip: haproxyVersion() === undefined && 'no haproxy (apt-get install -y haproxy)' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'pensieve-haproxy-cfg-'));
  try {
    const affinity = renderHaproxyConfig(input);
    const roundrobin = renderHaproxyConfig({ ...input, balance: 'roundrobin' });
    assert.match(affinity, /balance hash req\.hdr\(x-pensieve-route-key\)/);
    assert.match(affinity, /hash-balance-factor/);
    assert.doesNotMatch(roundrobin, /balance hash|hash-type|hash-balance-factor/);
    assert.match(roundrobin, /^ {4}balance roundrobin$/m);
    // Everything else (health checks, retries, the key header) stays.
    assert.equal(roundrobin.split('\n').length, affinity.split('\n').length - 2);
    for (const [name, text] of [['affinity', affinity], ['roundrobin', roundrobin]] as const) {
      const file = join(dir, `${name}.cfg`);
      writeFileSync(file, text);
      checkHaproxyConfig(file);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
