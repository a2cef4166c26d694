import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { agentRegistration, catalogRegistration, checkConsulSection, consulSectionSchema, serviceFor, serviceId } from '../../src/outputs/consul/index.js';
import { desiredView, entrySignature } from '../../src/outputs/consul/payload.js';
import type { ClusterState } from '../../src/topology/types.js';

const cluster: ClusterState = { name: 'testing', externalPort: 6379, master: { ip: '10.0.0.2', port: 6380 }, configEpoch: 3, confirmedAt: '2026-11-24T00:00:00.000Z', agreeingSentinels: [] };
const NOTES = 'Passed by redishappy every 10s while it has a confirmed master and a live sentinel; critical when redishappy stopped or lost every sentinel (TTL 30s).';

describe('Consul payloads', () => {
  it('agent mode: stable ID, name, tags, master address, meta and a passing TTL check', () => {
    const cfg = consulSectionSchema.parse({ Services: [{ Cluster: 'testing', Node: 'redis-1', Datacenter: 'dc1', Tags: ['redis', 'master'], Meta: { team: 'db' } }] });
    assert.deepEqual(agentRegistration(cfg, cluster), {
      ID: 'redishappy-consul-testing',
      Name: 'testing',
      Tags: ['redis', 'master'],
      Address: '10.0.0.2',
      Port: 6380,
      Meta: { team: 'db', redishappy_cluster: 'testing', config_epoch: '3', confirmed_at: '2026-11-24T00:00:00.000Z' },
      Check: { CheckID: 'service:redishappy-consul-testing', Name: 'redishappy: confirmed Redis master', Notes: NOTES, TTL: '30s', Status: 'passing' },
    });
  });

  it('agent mode: TtlSeconds 0 registers no check; ServiceName and DeregisterCriticalServiceAfter', () => {
    const noCheck = consulSectionSchema.parse({ TtlSeconds: 0, ServiceName: 'redis' });
    const body = agentRegistration(noCheck, cluster);
    assert.equal(body.Check, undefined);
    assert.equal(body.Name, 'redis');
    const dereg = consulSectionSchema.parse({ TtlSeconds: 9, DeregisterCriticalServiceAfter: '30m', Services: [{ Cluster: 'testing', ServiceName: 'cache' }] });
    const check = agentRegistration(dereg, cluster).Check as Record<string, unknown>;
    assert.equal(check.TTL, '9s');
    assert.equal(check.DeregisterCriticalServiceAfter, '30m');
    assert.match(String(check.Notes), /every 3s .*TTL 9s; Consul deregisters the service after 30m critical/);
    assert.equal(agentRegistration(dereg, cluster).Name, 'cache', 'the entry ServiceName wins over the section default');
  });

  it('catalog mode: synthetic external node (ESM convention), never an empty node', () => {
    const cfg = consulSectionSchema.parse({ Mode: 'catalog', Services: [{ Cluster: 'testing', Node: '', Datacenter: 'dc1', Tags: ['master'] }] });
    assert.deepEqual(catalogRegistration(cfg, cluster), {
      Node: 'redishappy-testing',
      Address: '10.0.0.2',
      Datacenter: 'dc1',
      NodeMeta: { 'external-node': 'true', 'external-probe': 'false' },
      Service: {
        ID: 'redishappy-consul-testing',
        Service: 'testing',
        Tags: ['master'],
        Address: '10.0.0.2',
        Port: 6380,
        Meta: { redishappy_cluster: 'testing', config_epoch: '3', confirmed_at: '2026-11-24T00:00:00.000Z' },
      },
    });
    // A cluster without a Services entry: the documented defaults.
    assert.deepEqual(serviceFor(cfg, 'nosvc'), { Cluster: 'nosvc', Node: 'redishappy-nosvc', Datacenter: undefined, Tags: [], ServiceName: 'nosvc', Meta: {} });
    assert.equal(serviceId('nosvc'), 'redishappy-consul-nosvc');
  });

  it('refuses to build a payload without a confirmed master', () => {
    const cfg = consulSectionSchema.parse({});
    assert.throws(() => agentRegistration(cfg, { ...cluster, master: null }), /no confirmed master/);
    assert.throws(() => catalogRegistration(cfg, { ...cluster, master: null }), /no confirmed master/);
  });

  it('entry signature: same after a restart (confirmed_at differs), different on any field that matters', () => {
    const cfg = consulSectionSchema.parse({});
    const sig = entrySignature(desiredView(cfg, cluster));
    assert.equal(entrySignature(desiredView(cfg, { ...cluster, confirmedAt: '2027-01-01T00:00:00.000Z' })), sig);
    assert.notEqual(entrySignature(desiredView(cfg, { ...cluster, master: { ip: '10.0.0.2', port: 6381 } })), sig);
    assert.notEqual(entrySignature(desiredView(cfg, { ...cluster, configEpoch: 4 })), sig);
    assert.notEqual(entrySignature(desiredView(consulSectionSchema.parse({ TtlSeconds: 60 }), cluster)), sig, 'another TTL is another check');
    assert.notEqual(entrySignature(desiredView(consulSectionSchema.parse({ Services: [{ Cluster: 'testing', Tags: ['x'] }] }), cluster)), sig);
  });
});

describe('Consul config checks', () => {
  it('defaults', () => {
    const cfg = consulSectionSchema.parse({});
    assert.deepEqual(cfg, { Address: '127.0.0.1:8500', Scheme: 'http', Mode: 'agent', TtlSeconds: 30, ReconcileIntervalMs: 30000, TimeoutMs: 5000, Verify: true, VerifyIntervalMs: 10000, VerifyRetries: 3 });
  });

  it("the original's packaged example: the service for \"other\" is a warning, not an error", () => {
    const cfg = consulSectionSchema.parse({
      Address: '127.0.0.1:8500',
      Services: [
        { Cluster: 'testing', Node: 'redis-1', Datacenter: 'dc1', Tags: ['redis', 'master', 'anothertag'] },
        { Cluster: 'other', Datacenter: 'dc1', Node: 'redis-2' },
      ],
    });
    const r = checkConsulSection(cfg, ['testing']);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.warnings, [
      'Consul.Services[1].Cluster: "other" is not a configured cluster; entry ignored',
      'Consul.Services[0]: Node and Datacenter are used in catalog mode only; in agent mode (the default) the services are registered with the agent at Consul.Address, on its node and in its datacenter',
    ]);
    assert.deepEqual(checkConsulSection({ ...cfg, Mode: 'catalog' }, ['testing']).warnings, ['Consul.Services[1].Cluster: "other" is not a configured cluster; entry ignored']);
  });

  it('duplicate service and bad address are errors with field paths', () => {
    const cfg = consulSectionSchema.parse({ Address: 'nope', Services: [{ Cluster: 'testing' }, { Cluster: 'testing' }] });
    assert.deepEqual(checkConsulSection(cfg, ['testing']).errors, [
      'Consul.Services[1].Cluster: "testing" already has a service (Consul.Services[0])',
      'Consul.Address: "nope" is not host:port (e.g. 127.0.0.1:8500 or https://consul.example:8501)',
    ]);
    for (const ok of ['127.0.0.1:8500', 'consul.service:8500', '[::1]:8500', 'https://consul.example:8501', 'http://10.0.0.1:8500/']) {
      assert.deepEqual(checkConsulSection(consulSectionSchema.parse({ Address: ok }), []).errors, [], ok);
    }
    for (const bad of ['127.0.0.1', '127.0.0.1:0', 'host:99999', '::1:8500']) {
      assert.equal(checkConsulSection(consulSectionSchema.parse({ Address: bad }), []).errors.length, 1, bad);
    }
  });

  it('names DNS cannot query, CaFile without https, overriding our own Meta keys are warnings', () => {
    const cfg = consulSectionSchema.parse({ CaFile: '/etc/ca.pem', Meta: { config_epoch: 'x' }, Services: [{ Cluster: 'a_b', Tags: ['ok', 'not.ok'] }, { Cluster: 'c', ServiceName: 'redis_c' }] });
    const r = checkConsulSection(cfg, ['a_b', 'c']);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.warnings, [
      'Consul.Services[0].Tags[1]: "not.ok" cannot be used in a DNS query (Consul DNS accepts letters, digits and -)',
      'Consul.Meta.config_epoch: set by redishappy; your value is replaced',
      'cluster "a_b": service name "a_b" cannot be used in a DNS query (Consul DNS accepts letters, digits and -); set Consul.Services[].ServiceName',
      'Consul.Services[1].ServiceName: service name "redis_c" cannot be used in a DNS query (Consul DNS accepts letters, digits and -); set Consul.Services[].ServiceName',
      'Consul.CaFile is set but Consul.Scheme is not https; the CA file is not used',
    ]);
    assert.deepEqual(checkConsulSection(consulSectionSchema.parse({ CaFile: '/x', Scheme: 'https' }), []).warnings, []);
  });

  it('schema: Consul rules for Meta, durations, TTL and modes', () => {
    const issues = (v: unknown) => {
      const r = consulSectionSchema.safeParse(v);
      return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    };
    assert.deepEqual(issues({ Meta: { 'consul-x': 'v' } }), ['Meta.consul-x: Meta keys starting with "consul-" are reserved by Consul']);
    assert.match(issues({ Meta: { 'a.b': 'v' } })[0]!, /letters, digits, _ and -/);
    assert.match(issues({ Meta: { a: 1 } })[0]!, /must be strings/);
    assert.match(issues({ Meta: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])) })[0]!, /at most 64/);
    assert.match(issues({ DeregisterCriticalServiceAfter: '30 minutes' })[0]!, /duration/);
    assert.deepEqual(issues({ DeregisterCriticalServiceAfter: '1h30m' }), []);
    assert.match(issues({ TtlSeconds: -1 })[0]!, /0 or more/);
    assert.match(issues({ Mode: 'kv' })[0]!, /agent or catalog/);
    assert.match(issues({ Scheme: 'ftp' })[0]!, /http or https/);
    assert.match(issues({ Services: [{ Node: 'x' }] })[0]!, /Services.0.Cluster: is required/);
    assert.deepEqual(issues({ Services: null }), [], 'null Services as the original allowed');
    assert.deepEqual(issues({ Services: [{ Cluster: 'a', Tags: null }] }), [], 'null tags as the original allowed');
  });

  it('too many Meta keys once merged with ours is an error', () => {
    const many = Object.fromEntries(Array.from({ length: 62 }, (_, i) => [`k${i}`, 'v']));
    const cfg = consulSectionSchema.parse({ Meta: many });
    assert.deepEqual(checkConsulSection({ ...cfg, Services: [{ Cluster: 'a' }] }, ['a']).errors, ["Consul.Services[0].Meta: with Consul.Meta and redishappy's 3 keys this service would have 65 Meta keys; Consul allows 64"]);
  });
});
