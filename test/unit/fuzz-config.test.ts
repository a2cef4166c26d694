import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, parseConfigText } from '../../src/config/load.js';

/** Any JSON and any REDISHAPPY_* strings: a valid config or a ConfigError naming problems, never a crash. */
describe('config loader under arbitrary input (fast-check, fixed seed)', () => {
  const check = (text: string, env: Record<string, string>, flavour: 'haproxy' | 'consul' | 'auto'): 'valid' | 'invalid' => {
    try {
      const { config } = parseConfigText(text, 'fuzz.json', env, flavour);
      assert.ok(config.Clusters.length >= 1 && config.Sentinels.length >= 1);
      return 'valid';
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      assert.ok(err.problems.length >= 1);
      for (const p of err.problems) assert.equal(typeof p, 'string');
      return 'invalid';
    }
  };

  it('arbitrary JSON values', () => {
    fc.assert(fc.property(fc.json(), fc.constantFrom('haproxy', 'consul', 'auto') as fc.Arbitrary<'haproxy' | 'consul' | 'auto'>, (json, flavour) => void check(json, {}, flavour)), { seed: 11, numRuns: 1500 });
  });

  it('environment overrides alone, any strings (including control characters and lone surrogates), on a valid file', () => {
    const template = join(mkdtempSync(join(tmpdir(), 'rh-fuzz-')), 'haproxy_template.cfg');
    writeFileSync(template, '{{range .Clusters}}listen {{.Name}}\n bind :{{.ExternalPort}}\n server m {{.Ip}}:{{.Port}}\n{{end}}');
    const valid = JSON.stringify({ Clusters: [{ Name: 'a', ExternalPort: 6379 }], Sentinels: [{ Host: '127.0.0.1', Port: 26379 }], HAProxy: { TemplatePath: template, OutputPath: '/tmp/o.cfg', ReloadCommand: 'true' } });
    const pairs = fc.array(fc.tuple(fc.oneof(fc.string({ unit: 'binary', maxLength: 6 }), fc.integer({ min: -1, max: 70000 }).map(String), fc.constantFrom('[::1]', '[', ']', '::1', 'a:b:c')), fc.oneof(fc.integer({ min: -1, max: 70000 }).map(String), fc.string({ unit: 'binary', maxLength: 6 }))), { maxLength: 4 });
    const list = fc.tuple(pairs, fc.constantFrom(';', ';;', ' ; ', ',')).map(([p, sep]) => p.map(([a, b]) => `${a}:${b}`).join(sep));
    const any = fc.oneof(list, fc.string({ unit: 'binary', maxLength: 40 }));
    const seen = { valid: 0, invalid: 0 };
    fc.assert(
      fc.property(
        fc.record({ REDISHAPPY_CLUSTERS: any, REDISHAPPY_SENTINELS: any, REDISHAPPY_HAPROXY_TEMPLATE_PATH: fc.oneof(fc.constant(template), any), REDISHAPPY_HAPROXY_OUTPUT_PATH: any, REDISHAPPY_HAPROXY_RELOAD_CMD: any }, { requiredKeys: [] }),
        fc.constantFrom('haproxy', 'consul', 'auto') as fc.Arbitrary<'haproxy' | 'consul' | 'auto'>,
        (e, flavour) => void seen[check(valid, e as Record<string, string>, flavour)]++,
      ),
      { seed: 14, numRuns: 2000 },
    );
    // Both outcomes were exercised, not only the error path.
    assert.ok(seen.valid > 100 && seen.invalid > 100, JSON.stringify(seen));
  });

  it('arbitrary text', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200 }), (text) => void check(text, {}, 'auto')), { seed: 12, numRuns: 1500 });
  });

  it('config-shaped objects with arbitrary values and env overrides', () => {
    const anyValue = fc.oneof(fc.string({ maxLength: 12 }), fc.integer({ min: -5, max: 70000 }), fc.boolean(), fc.constant(null), fc.array(fc.string({ maxLength: 5 }), { maxLength: 2 }));
    const cluster = fc.record({ Name: anyValue, ExternalPort: anyValue }, { requiredKeys: [] });
    const sentinel = fc.record({ Host: anyValue, Port: anyValue, Password: anyValue }, { requiredKeys: [] });
    const doc = fc.record(
      {
        clusters: fc.oneof(fc.array(cluster, { maxLength: 3 }), anyValue),
        SENTINELS: fc.oneof(fc.array(sentinel, { maxLength: 3 }), anyValue),
        HAProxy: fc.oneof(fc.record({ TemplatePath: anyValue, OutputPath: anyValue, ReloadCommand: anyValue, RuntimeSocket: anyValue, Servers: fc.dictionary(fc.string({ maxLength: 4 }), anyValue) }, { requiredKeys: [] }), anyValue),
        Consul: fc.oneof(fc.record({ Address: anyValue, Mode: anyValue, Services: fc.array(fc.record({ Cluster: anyValue, Tags: anyValue }, { requiredKeys: [] }), { maxLength: 2 }) }, { requiredKeys: [] }), anyValue),
        Watcher: fc.oneof(fc.record({ PollIntervalMs: anyValue, ReconnectMinMs: anyValue }, { requiredKeys: [] }), anyValue),
        Exec: fc.oneof(fc.array(fc.record({ Command: anyValue, Args: anyValue }, { requiredKeys: [] }), { maxLength: 2 }), anyValue),
      },
      { requiredKeys: [] },
    );
    const envString = fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('a:1;b:2', '[::1]:26379', 'x:0', ';', ':', 'h:99999', '[::1', 'a:1;'));
    const env = fc.record(
      {
        REDISHAPPY_CLUSTERS: envString,
        REDISHAPPY_SENTINELS: envString,
        REDISHAPPY_HAPROXY_TEMPLATE_PATH: envString,
        REDISHAPPY_HAPROXY_OUTPUT_PATH: envString,
        REDISHAPPY_HAPROXY_RELOAD_CMD: envString,
        REDISHAPPY_LOG_LEVEL: envString,
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(doc, env, fc.constantFrom('haproxy', 'consul', 'auto') as fc.Arbitrary<'haproxy' | 'consul' | 'auto'>, (d, e, flavour) => void check(JSON.stringify(d), e as Record<string, string>, flavour)),
      { seed: 13, numRuns: 2000 },
    );
  });
});
