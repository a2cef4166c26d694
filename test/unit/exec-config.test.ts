import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfigText } from '../../src/config/load.js';
import { execSectionSchema, hookEnv, hookEvent } from '../../src/outputs/hooks/index.js';
import type { MasterChange, TopologySnapshot } from '../../src/topology/types.js';

const base = { Clusters: [{ Name: 'testing', ExternalPort: 6379 }, { Name: 'other', ExternalPort: 6380 }], Sentinels: [{ Host: '127.0.0.1', Port: 26379 }] };

function problems(extra: Record<string, unknown>): string[] {
  try {
    parseConfigText(JSON.stringify({ ...base, ...extra }), 'test.json', {}, 'auto');
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  assert.fail('expected a ConfigError');
}

const snapshot: TopologySnapshot = {
  version: 3,
  clusters: [
    { name: 'other', externalPort: 6380, master: { ip: '10.0.0.9', port: 6379 }, configEpoch: 1, confirmedAt: '2026-01-01T00:00:00.000Z', agreeingSentinels: ['10.0.0.20:26379'] },
    { name: 'testing', externalPort: 6379, master: { ip: '10.0.0.2', port: 6380 }, configEpoch: 5, confirmedAt: '2026-01-01T00:00:02.000Z', agreeingSentinels: ['10.0.0.20:26379', '10.0.0.21:26379'] },
  ],
};

describe('Exec section', () => {
  it('fills the documented defaults and accepts keys in any case', () => {
    const { config } = parseConfigText(JSON.stringify({ ...base, exec: [{ command: '/usr/local/bin/update-dns' }] }), 'test.json', {}, 'auto');
    assert.deepEqual(config.Exec, [{ Command: '/usr/local/bin/update-dns', Args: [], Shell: false, TimeoutMs: 10000, MaxAttempts: 10 }]);
    const full = execSectionSchema.parse([{ Command: 'notify', Args: ['--zone', 'redis'], Shell: true, TimeoutMs: 500, Clusters: ['testing'], MaxAttempts: 3 }]);
    assert.deepEqual(full[0], { Command: 'notify', Args: ['--zone', 'redis'], Shell: true, TimeoutMs: 500, Clusters: ['testing'], MaxAttempts: 3 });
  });

  it('names the offending field in errors', () => {
    assert.deepEqual(problems({ Exec: [{ Args: [] }] }), ['Exec[0].Command: is required']);
    assert.deepEqual(problems({ Exec: [{ Command: '' }] }), ['Exec[0].Command: must not be empty']);
    assert.deepEqual(problems({ Exec: [{ Command: 'x', Args: 'a b' }] }), ['Exec[0].Args: must be a list of strings']);
    assert.deepEqual(problems({ Exec: [{ Command: 'x', TimeoutMs: 0 }] }), ['Exec[0].TimeoutMs: must be at least 1']);
    assert.deepEqual(problems({ Exec: [{ Command: 'x', TimeoutMs: 1.5 }] }), ['Exec[0].TimeoutMs: must be a whole number']);
    assert.deepEqual(problems({ Exec: [{ Command: 'x', Shell: 'yes' }] }), ['Exec[0].Shell: must be true or false']);
    assert.deepEqual(problems({ Exec: [{ Command: 'x', MaxAttempts: 0 }] }), ['Exec[0].MaxAttempts: must be at least 1']);
    assert.deepEqual(problems({ Exec: { Command: 'x' } }), ['Exec: must be a list of commands']);
    assert.deepEqual(problems({ Exec: [{ Command: 'ok' }, { Command: 7 }] }), ['Exec[1].Command: must be a string']);
  });

  it('warns about a cluster filter naming an unknown cluster', () => {
    const { warnings } = parseConfigText(JSON.stringify({ ...base, Exec: [{ Command: 'x', Clusters: ['testing', 'nope'] }] }), 'test.json', {}, 'auto');
    assert.deepEqual(warnings, ['Exec[0].Clusters[1]: "nope" is not a configured cluster']);
  });
});

describe('Exec event', () => {
  const change: MasterChange = { cluster: 'testing', previous: { ip: '10.0.0.1', port: 6379 }, current: { ip: '10.0.0.2', port: 6380 }, configEpoch: 5, confirmedAt: '2026-01-01T00:00:02.000Z', announcedAt: null };

  it('is the change plus the whole topology, and survives a JSON round trip unchanged', () => {
    const e = hookEvent(change, snapshot);
    assert.match(e.deliveryId, /^[0-9a-f-]{36}$/);
    assert.deepEqual(JSON.parse(JSON.stringify(e)), {
      event: 'master-changed',
      deliveryId: e.deliveryId,
      cluster: 'testing',
      previous: { ip: '10.0.0.1', port: 6379 },
      current: { ip: '10.0.0.2', port: 6380 },
      configEpoch: 5,
      confirmedAt: '2026-01-01T00:00:02.000Z',
      announcedAt: null,
      read: { externalReadPort: null, serving: [] },
      topology: snapshot,
    });
    assert.notEqual(hookEvent(change, snapshot).deliveryId, e.deliveryId, 'each event gets its own delivery id');
  });

  it('leaves unknown facts empty in the environment rather than writing "null"', () => {
    const env = hookEnv(hookEvent({ ...change, previous: null, configEpoch: null }, snapshot));
    assert.equal(env.REDISHAPPY_OLD_MASTER_IP, '');
    assert.equal(env.REDISHAPPY_OLD_MASTER_PORT, '');
    assert.equal(env.REDISHAPPY_CONFIG_EPOCH, '');
    assert.equal(env.REDISHAPPY_NEW_MASTER_IP, '10.0.0.2');
    assert.equal(env.REDISHAPPY_NEW_MASTER_PORT, '6380');
    assert.ok(Object.values(env).every((v) => typeof v === 'string' && !v.includes('null')));
  });

  it('keeps IPv6 literals and hostnames as given', () => {
    const env = hookEnv(hookEvent({ ...change, previous: { ip: 'redis-a.internal', port: 6379 }, current: { ip: 'fd00::2', port: 6379 } }, snapshot));
    assert.equal(env.REDISHAPPY_OLD_MASTER_IP, 'redis-a.internal');
    assert.equal(env.REDISHAPPY_NEW_MASTER_IP, 'fd00::2');
  });
});
