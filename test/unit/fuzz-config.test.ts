import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ConfigError, parseConfigText } from '../../src/config/load.js';

/** Any JSON and any REDISHAPPY_* strings: a valid config or a ConfigError naming problems, never a crash. */
describe('config loader under arbitrary input (fast-check, fixed seed)', () => {
  const check = (text: string, env: Record<string, string>, flavour: 'haproxy' | 'consul' | 'auto') => {
    try {
      const { config } = parseConfigText(text, 'fuzz.json', env, flavour);
      assert.ok(config.Clusters.length >= 1 && config.Sentinels.length >= 1);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      assert.ok(err.problems.length >= 1);
      for (const p of err.problems) assert.equal(typeof p, 'string');
    }
  };

  it('arbitrary JSON values', () => {
    fc.assert(fc.property(fc.json(), fc.constantFrom('haproxy', 'consul', 'auto') as fc.Arbitrary<'haproxy' | 'consul' | 'auto'>, (json, flavour) => check(json, {}, flavour)), { seed: 11, numRuns: 1500 });
  });

  it('arbitrary text', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200 }), (text) => check(text, {}, 'auto')), { seed: 12, numRuns: 1500 });
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
    const env = fc.record({ REDISHAPPY_CLUSTERS: envString, REDISHAPPY_SENTINELS: envString, REDISHAPPY_HAPROXY_RELOAD_CMD: envString }, { requiredKeys: [] });
    fc.assert(
      fc.property(doc, env, fc.constantFrom('haproxy', 'consul', 'auto') as fc.Arbitrary<'haproxy' | 'consul' | 'auto'>, (d, e, flavour) => check(JSON.stringify(d), e as Record<string, string>, flavour)),
      { seed: 13, numRuns: 2000 },
    );
  });
});
