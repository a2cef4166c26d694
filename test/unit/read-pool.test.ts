import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfigText } from '../../src/config/load.js';
import { parseClusters } from '../../src/config/env.js';
import { computeReadPool, type PoolInput } from '../../src/sentinel/read-pool.js';
import { parseRoleReply } from '../../src/sentinel/role.js';
import { offsetAckAgo } from '../../src/sentinel/replicas.js';
import { replicaEventMaster, parseReplicasReply, type ReplicaInfo } from '../../src/sentinel/parse.js';
import { planLive } from '../../src/outputs/haproxy/live-plan.js';
import { buildTemplateData, readSlots } from '../../src/outputs/file/data.js';
import { parseTemplate } from '../../src/template/index.js';
import { readFileSync } from 'node:fs';
import type { ClusterState, TopologySnapshot } from '../../src/topology/types.js';

const master = { ip: '10.0.0.1', port: 6379 };
const r = (port: number, extra: Partial<ReplicaInfo> = {}): ReplicaInfo => ({ ip: '10.0.0.2', port, flags: ['slave'], masterLinkStatus: 'ok', ...extra });
const role = (offset: number, acked: Array<[number, number]>) => ({ role: 'master', offset, replicas: acked.map(([port, o]) => ({ ip: '10.0.0.2', port, offset: o })) });
const pool = (over: Partial<PoolInput>) => computeReadPool({ master, lists: [[r(1), r(2)]], role: role(100, [[1, 100], [2, 100]]), maxLagBytes: 10, measureLag: true, ...over });
const reasons = (p: ReturnType<typeof computeReadPool>) => Object.fromEntries(p.candidates.map((c) => [c.port, c.reason]));

describe('read pool (pure)', () => {
  it('serves replicas that are healthy, linked, connected to the master and within the lag, sorted', () => {
    const p = pool({ lists: [[r(2), r(1)]] });
    assert.deepEqual(p.serving, [{ ip: '10.0.0.2', port: 1 }, { ip: '10.0.0.2', port: 2 }]);
    assert.deepEqual(p.candidates.map((c) => [c.port, c.state, c.lagBytes]), [[1, 'serving', 0], [2, 'serving', 0]]);
  });

  it('says why each replica is out', () => {
    assert.deepEqual(reasons(pool({ lists: [[r(1, { flags: ['slave', 's_down'] }), r(2, { flags: ['slave', 'o_down'] })]] })), { 1: 'down', 2: 'down' });
    assert.deepEqual(reasons(pool({ lists: [[r(1, { flags: ['slave', 'disconnected'] }), r(2, { masterLinkStatus: 'err' })]] })), { 1: 'disconnected', 2: 'link-down' });
    assert.deepEqual(reasons(pool({ role: role(100, [[1, 100]]) })), { 1: null, 2: 'not-connected' });
    assert.deepEqual(reasons(pool({ role: role(100, [[1, 89], [2, 90]]) })), { 1: 'lagging', 2: null });
    assert.deepEqual(reasons(pool({ role: null })), { 1: 'lag-unknown', 2: 'lag-unknown' });
    assert.deepEqual(reasons(pool({ role: { role: 'slave', offset: 0, replicas: [] } })), { 1: 'master-not-master', 2: 'master-not-master' });
    assert.deepEqual(reasons(pool({ lists: [[r(1), { ...r(2), ip: master.ip, port: master.port }]] })), { 1: null, 6379: 'is-master' });
  });

  it('an instance that only claims to be a replica (not connected to the confirmed master) never serves', () => {
    // Sentinel lists the returning old master as a healthy replica before it has converted.
    const p = pool({ lists: [[r(1), r(3)]], role: role(100, [[1, 100]]) });
    assert.deepEqual(p.serving.map((x) => x.port), [1]);
    assert.equal(reasons(p)[3], 'not-connected');
  });

  it('one sentinel seeing a replica down is enough to take it out (lists of the agreeing sentinels combined)', () => {
    const p = pool({ lists: [[r(1), r(2)], [r(1, { flags: ['slave', 's_down'] }), r(2)]] });
    assert.deepEqual(reasons(p), { 1: 'down', 2: null });
  });

  it('measures the lag from where the master was one acknowledgement ago', () => {
    // Master at 1000 now, at 900 a second ago; the replica acknowledged 905: in sync, lag 0.
    assert.equal(pool({ role: role(1000, [[1, 905], [2, 850]]), referenceOffset: 900 }).candidates[0]!.lagBytes, 0);
    assert.equal(pool({ role: role(1000, [[1, 905], [2, 850]]), referenceOffset: 900 }).candidates[1]!.lagBytes, 50);
    assert.equal(offsetAckAgo([{ at: 0, offset: 1 }, { at: 1000, offset: 2 }, { at: 2000, offset: 3 }], 3100), 2);
    assert.equal(offsetAckAgo([{ at: 2000, offset: 3 }], 2200), 3, 'no older sample: the current one');
  });

  it('clusters without a read endpoint: sentinel health only, no lag', () => {
    const p = pool({ role: null, measureLag: false, lists: [[r(1), r(2, { masterLinkStatus: 'err' })]] });
    assert.deepEqual(reasons(p), { 1: null, 2: 'link-down' });
    assert.equal(p.candidates[0]!.lagBytes, null);
  });
});

describe('read pool parsers', () => {
  it('ROLE of a master, of a replica, and nonsense', () => {
    assert.deepEqual(parseRoleReply(['master', 3129659, [['127.0.0.1', '9001', '3129242'], ['bad'], ['h', '0', '1']]]), { role: 'master', offset: 3129659, replicas: [{ ip: '127.0.0.1', port: 9001, offset: 3129242 }] });
    assert.deepEqual(parseRoleReply(['slave', '127.0.0.1', 9000, 'connected', 3167038]), { role: 'slave', offset: 0, replicas: [] });
    assert.equal(parseRoleReply('x'), null);
    assert.equal(parseRoleReply(['master', 'x', []]), null);
  });

  it('replica events name their master; other instance types are not replica events', () => {
    assert.equal(replicaEventMaster('slave 127.0.0.1:6380 127.0.0.1 6380 @ testing 127.0.0.1 6379'), 'testing');
    assert.equal(replicaEventMaster('master testing 127.0.0.1 6379'), null);
    assert.equal(replicaEventMaster('sentinel 0123 127.0.0.1 26379 @ testing 127.0.0.1 6379'), null);
  });

  it('SENTINEL REPLICAS carries master-link-status', () => {
    assert.deepEqual(parseReplicasReply([['ip', '10.0.0.2', 'port', '6380', 'flags', 'slave', 'master-link-status', 'ok']]), [{ ip: '10.0.0.2', port: 6380, flags: ['slave'], masterLinkStatus: 'ok' }]);
  });
});

function problemsOf(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfigText(text, 's', env, 'auto');
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  return [];
}

const cfg = (clusters: unknown[], extra: Record<string, unknown> = {}) => JSON.stringify({ Clusters: clusters, Sentinels: [{ Host: 'h', Port: 1 }], ...extra });

describe('read endpoint configuration', () => {
  it('accepts a read port, lag limits and the fallback, with defaults', () => {
    const { config } = parseConfigText(cfg([{ Name: 'a', ExternalPort: 1, ExternalReadPort: 2, MaxReplicaLagBytes: 0, ReadFallbackToMaster: false }, { Name: 'b', ExternalPort: 3 }]), 's', {}, 'auto');
    assert.equal(config.Watcher.MaxReplicaLagBytes, 1048576);
    assert.equal(config.ReadFallbackToMaster, true);
    assert.deepEqual(config.Clusters[0], { Name: 'a', ExternalPort: 1, ExternalReadPort: 2, MaxReplicaLagBytes: 0, ReadFallbackToMaster: false });
  });

  it('a read port equal to its own write port, another cluster\'s write port or read port: both fields named', () => {
    assert.deepEqual(problemsOf(cfg([{ Name: 'a', ExternalPort: 1, ExternalReadPort: 1 }])), ['Clusters[0].ExternalReadPort: 1 is also Clusters[0].ExternalPort (its own write port); a read port needs a port of its own']);
    assert.deepEqual(problemsOf(cfg([{ Name: 'a', ExternalPort: 1 }, { Name: 'b', ExternalPort: 2, ExternalReadPort: 1 }])), ['Clusters[1].ExternalReadPort: 1 is also Clusters[0].ExternalPort (cluster "a"); a read port needs a port of its own']);
    assert.deepEqual(problemsOf(cfg([{ Name: 'a', ExternalPort: 1, ExternalReadPort: 5 }, { Name: 'b', ExternalPort: 2, ExternalReadPort: 5 }])), ['Clusters[1].ExternalReadPort: 5 is also Clusters[0].ExternalReadPort (cluster "a"); each cluster needs its own read port']);
  });

  it('a read port out of range, a negative or fractional lag, a fallback that is not a boolean', () => {
    assert.deepEqual(problemsOf(cfg([{ Name: 'a', ExternalPort: 1, ExternalReadPort: 70000, MaxReplicaLagBytes: -1 }], { Watcher: { MaxReplicaLagBytes: 1.5 }, ReadFallbackToMaster: 'yes' })), [
      'Clusters[0].ExternalReadPort: must be 1-65535',
      'Clusters[0].MaxReplicaLagBytes: must be 0 or more (bytes of replication lag)',
      'Watcher.MaxReplicaLagBytes: must be a whole number of bytes',
      'ReadFallbackToMaster: must be true or false',
    ]);
  });

  it('REDISHAPPY_CLUSTERS takes name:port:readport', () => {
    const { config } = parseConfigText(cfg([{ Name: 'a', ExternalPort: 9, ExternalReadPort: 10, Password: 'p' }]), 's', { REDISHAPPY_CLUSTERS: 'a:1:2;b:3' }, 'auto');
    assert.deepEqual(config.Clusters, [{ Name: 'a', ExternalPort: 1, ExternalReadPort: 2, Password: 'p' }, { Name: 'b', ExternalPort: 3 }]);
    assert.deepEqual(parseClusters('a:1:0;b:x:2;:1:2').problems, [
      'REDISHAPPY_CLUSTERS: entry 1 "a:1:0" has a read port 0: must be 1-65535',
      'REDISHAPPY_CLUSTERS: entry 2 "b:x:2" has a port that is not a number',
      'REDISHAPPY_CLUSTERS: entry 3 ":1:2" has an empty name',
    ]);
    assert.deepEqual(problemsOf(cfg([{ Name: 'x', ExternalPort: 1 }]), { REDISHAPPY_CLUSTERS: 'a:1:1' }), ['Clusters[0].ExternalReadPort: 1 is also Clusters[0].ExternalPort (its own write port); a read port needs a port of its own']);
  });
});

function snapshot(serving: number[], masterPort = 6379, readPort: number | null = 7000, fallback = true): TopologySnapshot {
  const c: ClusterState = { name: 'a', externalPort: 6000, master: { ip: '10.0.0.1', port: masterPort }, configEpoch: 1, confirmedAt: 'x', agreeingSentinels: [], replicas: serving.map((port) => ({ ip: '10.0.0.2', port })), externalReadPort: readPort, readFallbackToMaster: fallback };
  return { clusters: [c], version: 1 };
}

describe('HAProxy read slots', () => {
  const shipped = parseTemplate(readFileSync(new URL('../../examples/haproxy/haproxy_template_runtime.cfg', import.meta.url), 'utf8'), 't');
  const render = (s: TopologySnapshot, slots = 2) => shipped.execute(buildTemplateData(s, undefined, slots).data);

  it('the shipped template renders a cluster without a read port exactly as before', () => {
    const text = render(snapshot([1], 6379, null));
    assert.doesNotMatch(text, /_read/);
    assert.match(text, /server R_a_1 10\.0\.0\.1:6379 maxconn 1024 check inter 100ms on-marked-down shutdown-sessions\n## end cluster a\n/);
  });

  it('renders the read frontend, the slots and the master as backup', () => {
    const text = render(snapshot([1]));
    assert.match(text, /frontend ft_a_read\n bind \*:7000\n default_backend bk_a_read\n/);
    assert.match(text, / server R_a_read_1 10\.0\.0\.2:1 maxconn 1024\n server R_a_read_2 127\.0\.0\.1:1 maxconn 1024 disabled\n server R_a_read_master 10\.0\.0\.1:6379 maxconn 1024 backup\n/);
    assert.doesNotMatch(render(snapshot([1], 6379, 7000, false)), /R_a_read_master/);
  });

  it('a pool change within the slots is applied live; a pool larger than the slots needs a reload, with a warning', () => {
    const before = buildTemplateData(snapshot([1]), undefined, 2).data;
    const plan = planLive({ data: buildTemplateData(snapshot([2, 3]), undefined, 2).data, changes: [], onDisk: render(snapshot([1])), running: before, servers: undefined, render: (d) => shipped.execute(d) });
    assert.ok('slots' in plan, JSON.stringify(plan));
    assert.deepEqual(plan.slots.map((s) => [s.server, s.ready, s.port]), [['R_a_read_1', true, 2], ['R_a_read_2', true, 3]]);
    const tooMany = planLive({ data: buildTemplateData(snapshot([1, 2, 3]), undefined, 2).data, changes: [], onDisk: render(snapshot([1])), running: before, servers: undefined, render: (d) => shipped.execute(d) });
    assert.ok('reason' in tooMany && tooMany.warn === true, JSON.stringify(tooMany));
  });

  it('a cluster without a read port: a replica change plans no slot (HAProxy has none), and a failover is one switch', () => {
    const before = buildTemplateData(snapshot([1], 6379, null), undefined, 2).data;
    const onDisk = render(snapshot([1], 6379, null));
    const replicasOnly = planLive({ data: buildTemplateData(snapshot([2], 6379, null), undefined, 2).data, changes: [], onDisk, running: before, servers: undefined, render: (d) => shipped.execute(d) });
    assert.deepEqual(replicasOnly, { reason: 'nothing HAProxy runs can be changed live' });
    const failover = planLive({ data: buildTemplateData(snapshot([], 6380, null), undefined, 2).data, changes: [], onDisk, running: before, servers: undefined, render: (d) => shipped.execute(d) });
    assert.ok('switches' in failover, JSON.stringify(failover));
    assert.deepEqual([failover.switches.map((s) => `${s.backend}/${s.server}:${s.port}`), failover.slots], [['bk_a/R_a_1:6380'], []]);
  });

  it('a master change also moves the read backup to the new master', () => {
    const before = buildTemplateData(snapshot([1]), undefined, 2).data;
    const plan = planLive({ data: buildTemplateData(snapshot([1], 6380), undefined, 2).data, changes: [], onDisk: render(snapshot([1])), running: before, servers: undefined, render: (d) => shipped.execute(d) });
    assert.ok('switches' in plan, JSON.stringify(plan));
    assert.deepEqual(plan.switches.map((s) => `${s.backend}/${s.server}:${s.port}${s.optional ? '?' : ''}`), ['bk_a/R_a_1:6380', 'bk_a_read/R_a_read_master:6380?']);
    assert.deepEqual(plan.slots, []);
  });

  it('slots: the n-th serving replica in slot n, the rest empty', () => {
    assert.deepEqual(readSlots('a', [{ Ip: '10.0.0.2', Port: 1 }], 2), [{ Name: 'R_a_read_1', Ip: '10.0.0.2', Port: 1, Ready: true }, { Name: 'R_a_read_2', Ip: '127.0.0.1', Port: 1, Ready: false }]);
  });
});
