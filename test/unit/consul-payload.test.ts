import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { agentRegistration, catalogRegistration, checkConsulSection, consulSectionSchema } from '../../src/sinks/consul/index.js';
import type { ClusterState } from '../../src/topology/types.js';

const cluster: ClusterState = { name: 'testing', externalPort: 6379, master: { ip: '10.0.0.2', port: 6380 }, configEpoch: 3, confirmedAt: '2026-11-24T00:00:00.000Z', agreeingSentinels: [] };

describe('Consul payloads and config', () => {
  it('agent mode: stable ID, name, tags, master address, meta and a TTL check', () => {
    const cfg = consulSectionSchema.parse({ Services: [{ Cluster: 'testing', Node: 'redis-1', Datacenter: 'dc1', Tags: ['redis', 'master'] }] });
    assert.deepEqual(agentRegistration(cfg, cluster), {
      ID: 'redishappy-consul-testing',
      Name: 'testing',
      Tags: ['redis', 'master'],
      Address: '10.0.0.2',
      Port: 6380,
      Meta: { redishappy_cluster: 'testing', config_epoch: '3', confirmed_at: '2026-11-24T00:00:00.000Z' },
      Check: { CheckID: 'service:redishappy-consul-testing', Name: 'redishappy: confirmed Redis master', Notes: 'Passed by redishappy while it has a confirmed master and a live sentinel.', TTL: '30s', Status: 'passing' },
    });
    const noCheck = consulSectionSchema.parse({ TtlSeconds: 0, ServiceName: 'redis' });
    const body = agentRegistration(noCheck, cluster);
    assert.equal(body.Check, undefined);
    assert.equal(body.Name, 'redis');
  });

  it('catalog mode: synthetic external node, never an empty node', () => {
    const cfg = consulSectionSchema.parse({ Mode: 'catalog' });
    const body = catalogRegistration(cfg, cluster);
    assert.equal(body.Node, 'redishappy-testing');
    assert.deepEqual(body.NodeMeta, { 'external-node': 'true', 'external-probe': 'false' });
    assert.deepEqual((body.Service as Record<string, unknown>).Port, 6380);
  });

  it('config checks: unknown cluster is a warning, duplicate and bad address are errors', () => {
    const cfg = consulSectionSchema.parse({ Address: 'nope', Services: [{ Cluster: 'testing' }, { Cluster: 'testing' }, { Cluster: 'other' }] });
    const r = checkConsulSection(cfg, ['testing']);
    assert.deepEqual(r.errors, ['Consul.Services[1].Cluster: "testing" already has a service (Consul.Services[0])', 'Consul.Address: "nope" is not host:port (e.g. 127.0.0.1:8500)']);
    assert.deepEqual(r.warnings, ['Consul.Services[2].Cluster: "other" is not a configured cluster; entry ignored']);
  });
});
