import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { execSectionSchema, hookEnv, hookEvent, sign, webhookSectionSchema } from '../../src/outputs/hooks/index.js';
import { parseConfigText } from '../../src/config/load.js';
import { configurationForApi } from '../../src/config/redacted.js';

const change = { cluster: 'testing', previous: { ip: '10.0.0.1', port: 6379 }, current: { ip: '10.0.0.2', port: 6380 }, configEpoch: 4, confirmedAt: '2026-11-24T00:00:01.000Z', announcedAt: Date.parse('2026-11-24T00:00:00.990Z') };
const snapshot = { version: 7, clusters: [] };

describe('hook payloads', () => {
  it('carries the change and the whole topology, as JSON and as environment variables', () => {
    const e = hookEvent(change, snapshot);
    assert.equal(e.event, 'master-changed');
    assert.equal(e.announcedAt, '2026-11-24T00:00:00.990Z');
    assert.deepEqual(e.topology, snapshot);
    const env = hookEnv(e);
    assert.deepEqual(
      { ...env, REDISHAPPY_DELIVERY_ID: 'x' },
      { REDISHAPPY_EVENT: 'master-changed', REDISHAPPY_DELIVERY_ID: 'x', REDISHAPPY_CLUSTER: 'testing', REDISHAPPY_OLD_MASTER_IP: '10.0.0.1', REDISHAPPY_OLD_MASTER_PORT: '6379', REDISHAPPY_NEW_MASTER_IP: '10.0.0.2', REDISHAPPY_NEW_MASTER_PORT: '6380', REDISHAPPY_CONFIG_EPOCH: '4', REDISHAPPY_CONFIRMED_AT: '2026-11-24T00:00:01.000Z', REDISHAPPY_READ_POOL: '' },
    );
  });

  it('carries the changed cluster\'s read pool (issue 21)', () => {
    const withPool = { version: 7, clusters: [{ name: 'testing', externalPort: 7000, master: change.current, configEpoch: 4, confirmedAt: change.confirmedAt, agreeingSentinels: [], externalReadPort: 7100, replicas: [{ ip: '10.0.0.3', port: 6381 }, { ip: '::1', port: 6382 }] }] };
    const e = hookEvent(change, withPool);
    assert.deepEqual(e.read, { externalReadPort: 7100, serving: [{ ip: '10.0.0.3', port: 6381 }, { ip: '::1', port: 6382 }] });
    assert.equal(hookEnv(e).REDISHAPPY_READ_POOL, '10.0.0.3:6381 [::1]:6382');
  });

  it('signs the body with HMAC-SHA256', () => {
    assert.equal(sign('k', 'body'), `sha256=${createHmac('sha256', 'k').update('body').digest('hex')}`);
  });

  it('validates the sections and redacts secrets in the API', () => {
    assert.equal(execSectionSchema.safeParse([{ Args: [] }]).success, false);
    assert.equal(webhookSectionSchema.safeParse([{ Url: 'ftp://x' }]).success, false);
    const { config, warnings } = parseConfigText(
      JSON.stringify({ Clusters: [{ Name: 'a', ExternalPort: 1 }], Sentinels: [{ Host: 'h', Port: 1 }], exec: [{ command: '/bin/true', clusters: ['zz'] }], Webhook: [{ Url: 'https://hooks.example/x', Secret: 's3', Headers: { Authorization: 'Bearer t0k', 'X-Team': 'ops' } }] }),
      's',
      {},
      'auto',
    );
    assert.equal(config.Exec?.[0]?.TimeoutMs, 10000);
    assert.deepEqual(warnings, ['Exec[0].Clusters[0]: "zz" is not a configured cluster']);
    const api = JSON.stringify(configurationForApi(config));
    assert.ok(!api.includes('s3') && !api.includes('t0k'), api);
    assert.ok(api.includes('"X-Team":"ops"'));
  });
});
