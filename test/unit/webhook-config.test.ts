import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfigText } from '../../src/config/load.js';
import { configurationForApi } from '../../src/config/redacted.js';
import { sign, webhookSectionSchema } from '../../src/outputs/hooks/index.js';
import { verifySignature } from '../support/webhook-receiver.js';

const base = { Clusters: [{ Name: 'testing', ExternalPort: 6379 }], Sentinels: [{ Host: '127.0.0.1', Port: 26379 }] };

function problems(extra: Record<string, unknown>): string[] {
  try {
    parseConfigText(JSON.stringify({ ...base, ...extra }), 'test.json', {}, 'auto');
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  assert.fail('expected a ConfigError');
}

describe('Webhook section', () => {
  it('fills the documented defaults', () => {
    const { config } = parseConfigText(JSON.stringify({ ...base, webhook: [{ url: 'https://hooks.example/redis' }] }), 'test.json', {}, 'auto');
    assert.deepEqual(config.Webhook, [{ Url: 'https://hooks.example/redis', TimeoutMs: 5000, MaxAttempts: 10 }]);
  });

  it('names the offending field in errors', () => {
    assert.deepEqual(problems({ Webhook: [{}] }), ['Webhook[0].Url: must be an http:// or https:// URL']);
    assert.deepEqual(problems({ Webhook: [{ Url: 'ftp://hooks.example/x' }] }), ['Webhook[0].Url: must be an http:// or https:// URL']);
    assert.deepEqual(problems({ Webhook: [{ Url: 'not a url' }] }), ['Webhook[0].Url: must be an http:// or https:// URL']);
    assert.deepEqual(problems({ Webhook: [{ Url: 'http://h/x', Headers: { 'X-Team': 7 } }] }), ['Webhook[0].Headers.X-Team: header values are strings']);
    assert.deepEqual(problems({ Webhook: [{ Url: 'http://h/x', Secret: '' }] }), ['Webhook[0].Secret: must not be empty']);
    assert.deepEqual(problems({ Webhook: [{ Url: 'http://h/x', TimeoutMs: -1 }] }), ['Webhook[0].TimeoutMs: must be at least 1']);
    assert.deepEqual(problems({ Webhook: 'http://h/x' }), ['Webhook: must be a list of webhooks']);
  });

  it('keeps header names as written (they are the user\'s own keys)', () => {
    const { config } = parseConfigText(JSON.stringify({ ...base, Webhook: [{ Url: 'http://h/x', Headers: { 'x-custom-thing': 'a' } }] }), 'test.json', {}, 'auto');
    assert.deepEqual(config.Webhook?.[0]?.Headers, { 'x-custom-thing': 'a' });
  });

  it('redacts the secret, credential-like header values and URL passwords in /api/configuration', () => {
    const { config } = parseConfigText(
      JSON.stringify({
        ...base,
        Webhook: [{ Url: 'https://bot:pw123@hooks.example/x', Secret: 'hmac-key-1', Headers: { Authorization: 'Bearer tok-1', 'X-Api-Key': 'key-1', 'X-Auth-Token': 'tok-2', 'X-Team': 'ops' } }],
      }),
      'test.json',
      {},
      'auto',
    );
    const api = JSON.stringify(configurationForApi(config));
    for (const s of ['hmac-key-1', 'tok-1', 'key-1', 'tok-2', 'pw123']) assert.ok(!api.includes(s), `${s} leaked: ${api}`);
    assert.ok(api.includes('"X-Team":"ops"'), api);
    assert.ok(api.includes('"secret":"<redacted>"'), api);
  });
});

describe('Webhook signature', () => {
  it('is sha256=<hex HMAC-SHA256 of the raw body>, verifiable as docs/hooks.md shows', () => {
    const body = JSON.stringify({ event: 'master-changed', cluster: 'testing' });
    const header = sign('s3cret', body);
    assert.match(header, /^sha256=[0-9a-f]{64}$/);
    assert.ok(verifySignature('s3cret', body, header));
    assert.ok(!verifySignature('other', body, header), 'another secret does not verify');
    assert.ok(!verifySignature('s3cret', `${body} `, header), 'a changed body does not verify');
    assert.ok(!verifySignature('s3cret', body, undefined));
    assert.ok(!verifySignature('s3cret', body, 'sha256=00'));
  });

  it('is a known-answer HMAC (RFC 4231 test case 2)', () => {
    assert.equal(sign('Jefe', 'what do ya want for nothing?'), 'sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });

  it('schema accepts a full entry', () => {
    const [w] = webhookSectionSchema.parse([{ Url: 'http://127.0.0.1:1/x', Headers: { A: 'b' }, TimeoutMs: 100, Secret: 'k', Clusters: ['testing'], MaxAttempts: 2 }]);
    assert.deepEqual(w, { Url: 'http://127.0.0.1:1/x', Headers: { A: 'b' }, TimeoutMs: 100, Secret: 'k', Clusters: ['testing'], MaxAttempts: 2 });
  });
});
