import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseTemplate } from '../../src/template/index.js';
import { buildTemplateData, compareBytes, sampleTemplateData, withAddresses } from '../../src/outputs/file/data.js';
import type { ClusterState, TopologySnapshot } from '../../src/topology/types.js';

function cluster(name: string, externalPort: number, master: { ip: string; port: number } | null, extra: Partial<ClusterState> = {}): ClusterState {
  return {
    name,
    externalPort,
    master,
    configEpoch: master ? 3 : null,
    confirmedAt: master ? '2026-01-01T00:00:00.000Z' : null,
    agreeingSentinels: [],
    ...extra,
  };
}

function snapshot(clusters: ClusterState[], version = 7): TopologySnapshot {
  return { clusters, version };
}

describe('HAProxy template data', () => {
  it('gives the original fields for every confirmed cluster', () => {
    const { data, rejected } = buildTemplateData(snapshot([cluster('testing', 6379, { ip: '10.0.0.5', port: 7000 })]));
    assert.deepEqual(rejected, []);
    assert.equal(data.Clusters.length, 1);
    const c = data.Clusters[0]!;
    assert.equal(c.Name, 'testing');
    assert.equal(c.Ip, '10.0.0.5');
    assert.equal(c.Port, 7000);
    assert.equal(c.ExternalPort, 6379);
    assert.equal(c.Confirmed, true);
    assert.equal(c.ConfigEpoch, 3);
    assert.equal(c.ConfirmedAt, '2026-01-01T00:00:00.000Z');
    assert.equal(data.Version, 7);
    assert.equal(data.Epoch, 3);
  });

  it('leaves clusters without a confirmed master out of .Clusters but keeps them in .AllClusters', () => {
    const { data } = buildTemplateData(snapshot([cluster('a', 1, null), cluster('b', 2, { ip: '10.0.0.2', port: 6379 })]));
    assert.deepEqual(
      data.Clusters.map((c) => c.Name),
      ['b'],
    );
    assert.deepEqual(
      data.AllClusters.map((c) => [c.Name, c.Confirmed, c.Ip, c.Port, c.ConfigEpoch, c.ConfirmedAt]),
      [
        ['a', false, '', 0, 0, ''],
        ['b', true, '10.0.0.2', 6379, 3, '2026-01-01T00:00:00.000Z'],
      ],
    );
  });

  it('never presents an empty address or port 0 (the original rendered "server R_x_1 :0")', () => {
    const { data, rejected } = buildTemplateData(
      snapshot([cluster('empty', 1, { ip: '', port: 0 }), cluster('zero', 2, { ip: '10.0.0.1', port: 0 }), cluster('inject', 3, { ip: '10.0.0.1\n server evil 6.6.6.6', port: 1 })]),
    );
    assert.deepEqual(data.Clusters, []);
    assert.deepEqual(
      rejected.map((r) => r.cluster),
      ['empty', 'inject', 'zero'],
    );
    assert.ok(data.AllClusters.every((c) => !c.Confirmed && c.Ip === '' && c.Port === 0));
  });

  it('sorts by name in byte order, whatever the snapshot order', () => {
    const names = ['b', 'B', 'a-2', 'a', '\u{1F600}', '\uFF5E', 'a_1'];
    const { data } = buildTemplateData(snapshot(names.map((n, i) => cluster(n, 100 + i, { ip: '127.0.0.1', port: 6379 }))));
    // Byte order: uppercase before lowercase; U+FF5E (EF BD 9E) before U+1F600 (F0 9F 98 80),
    // although JS string comparison (UTF-16) would put the emoji first.
    assert.deepEqual(
      data.Clusters.map((c) => c.Name),
      ['B', 'a', 'a-2', 'a_1', 'b', '\uFF5E', '\u{1F600}'],
    );
    assert.deepEqual(
      data.AllClusters.map((c) => c.Name),
      data.Clusters.map((c) => c.Name),
    );
    assert.ok(compareBytes('\uFF5E', '\u{1F600}') < 0);
    assert.ok('\uFF5E' > '\u{1F600}', 'JS order differs from byte order here');
  });

  it('reports the highest config epoch and 0 when none is known', () => {
    assert.equal(buildTemplateData(snapshot([cluster('a', 1, { ip: '1.1.1.1', port: 1 }, { configEpoch: 9 }), cluster('b', 2, { ip: '1.1.1.2', port: 1 }, { configEpoch: 4 })])).data.Epoch, 9);
    assert.equal(buildTemplateData(snapshot([cluster('a', 1, null)])).data.Epoch, 0);
    assert.equal(buildTemplateData(snapshot([cluster('a', 1, { ip: '1.1.1.1', port: 1 }, { configEpoch: null })])).data.Clusters[0]!.ConfigEpoch, 0);
  });

  it('accepts IPv6 literals and host names as addresses', () => {
    const { data } = buildTemplateData(snapshot([cluster('v6', 1, { ip: '::1', port: 6379 }), cluster('host', 2, { ip: 'redis-1.example.com', port: 6379 })]));
    assert.deepEqual(
      data.Clusters.map((c) => c.Ip),
      ['redis-1.example.com', '::1'],
    );
  });

  it('filters a snapshot to the configured clusters when names are given', () => {
    const { data } = buildTemplateData(snapshot([cluster('kept', 1, { ip: '1.1.1.1', port: 1 }), cluster('removed', 2, { ip: '1.1.1.2', port: 1 })]), ['kept']);
    assert.deepEqual(
      data.AllClusters.map((c) => c.Name),
      ['kept'],
    );
  });

  it('swaps addresses to reconstruct a previous state', () => {
    const { data } = buildTemplateData(snapshot([cluster('a', 1, { ip: '10.0.0.1', port: 1 }), cluster('b', 2, null)]));
    const prev = withAddresses(data, new Map([['a', { ip: '10.0.0.9', port: 9 }], ['b', { ip: '10.0.0.8', port: 8 }]]));
    assert.deepEqual(
      prev.Clusters.map((c) => [c.Name, c.Ip, c.Port]),
      [['a', '10.0.0.9', 9]],
    );
    assert.equal(prev.AllClusters[1]!.Ip, '', 'unconfirmed clusters stay unconfirmed');
    assert.equal(data.Clusters[0]!.Ip, '10.0.0.1', 'input not mutated');
  });

  it('has sample data for trying a template, one cluster per configured name', () => {
    assert.deepEqual(
      sampleTemplateData(['z', 'a']).Clusters.map((c) => c.Name),
      ['a', 'z'],
    );
    assert.equal(sampleTemplateData().Clusters.length, 1);
  });

  it('renders the original template byte for byte like the original program (unconfirmed cluster left out)', () => {
    const dir = new URL('../fixtures/templates/', import.meta.url);
    const tpl = parseTemplate(readFileSync(new URL('haproxy_template.cfg', dir), 'utf8'), 'haproxy_template.cfg');
    const expected = readFileSync(new URL('haproxy_template.expected.cfg', dir), 'utf8');
    const { data } = buildTemplateData(snapshot([cluster('two', 2345, { ip: '10.0.1.1', port: 5432 }), cluster('unknown', 7000, null), cluster('one', 5432, { ip: '10.0.0.1', port: 2345 })]));
    assert.equal(tpl.execute(data), expected);
    assert.equal(readFileSync(new URL('../../examples/haproxy/haproxy_template.cfg', import.meta.url), 'utf8'), readFileSync(new URL('haproxy_template.cfg', dir), 'utf8'), 'example is the original, verbatim');
  });
});
