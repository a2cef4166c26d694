import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TopologyStore } from '../../src/topology/store.js';
import type { MasterChange } from '../../src/topology/types.js';

describe('topology store', () => {
  it('holds every configured cluster sorted by name, unconfirmed until confirmed', () => {
    const t = new TopologyStore([{ name: 'b', externalPort: 2 }, { name: 'a', externalPort: 1 }]);
    assert.deepEqual(t.snapshot().clusters.map((c) => [c.name, c.master]), [['a', null], ['b', null]]);
  });

  it('emits one change per real master change, with the whole state', () => {
    const t = new TopologyStore([{ name: 'a', externalPort: 1 }, { name: 'b', externalPort: 2 }]);
    const seen: MasterChange[] = [];
    t.on('change', (c, snap) => {
      seen.push(c);
      assert.equal(snap.clusters.length, 2);
    });
    assert.ok(t.confirm('a', { ip: '10.0.0.1', port: 1 }, 1, ['s1'], null));
    assert.equal(t.confirm('a', { ip: '10.0.0.1', port: 1 }, 1, ['s1', 's2'], null), null, 'same master: no change');
    assert.deepEqual(t.get('a')?.agreeingSentinels, ['s1', 's2']);
    const v = t.snapshot().version;
    const change = t.confirm('a', { ip: '10.0.0.2', port: 1 }, 2, ['s1'], 1000);
    assert.deepEqual(change?.previous, { ip: '10.0.0.1', port: 1 });
    assert.equal(change?.announcedAt, 1000);
    assert.equal(t.snapshot().version, v + 1);
    assert.equal(seen.length, 2);
    assert.equal(t.confirm('unknown', { ip: 'x', port: 1 }, 1, [], null), null);
  });

  it('snapshots are immutable copies', () => {
    const t = new TopologyStore([{ name: 'a', externalPort: 1 }]);
    t.confirm('a', { ip: '10.0.0.1', port: 1 }, 1, ['s1'], null);
    const snap = t.snapshot();
    t.confirm('a', { ip: '10.0.0.2', port: 1 }, 2, ['s1'], null);
    assert.equal(snap.clusters[0]?.master?.ip, '10.0.0.1');
  });

  it('a change copies only the changed cluster: the others are the same objects, all frozen', () => {
    const t = new TopologyStore([{ name: 'a', externalPort: 1 }, { name: 'b', externalPort: 2 }, { name: 'c', externalPort: 3 }]);
    for (const n of ['a', 'b', 'c']) t.confirm(n, { ip: '10.0.0.1', port: 1 }, 1, ['s1'], null);
    const before = t.snapshot();
    t.confirm('b', { ip: '10.0.0.2', port: 1 }, 2, ['s1'], null);
    const after = t.snapshot();
    assert.equal(after.clusters[0], before.clusters[0], 'a: not copied again');
    assert.equal(after.clusters[2], before.clusters[2], 'c: not copied again');
    assert.notEqual(after.clusters[1], before.clusters[1]);
    assert.equal(before.clusters[1]?.master?.ip, '10.0.0.1', 'the earlier snapshot still says what it said');
    assert.equal(after.clusters[1]?.master?.ip, '10.0.0.2');
    assert.ok(Object.isFrozen(after.clusters[1]) && Object.isFrozen(after.clusters[1]?.master) && Object.isFrozen(after.clusters[1]?.agreeingSentinels));
    t.setReplicas('c', [{ ip: '10.0.0.9', port: 9 }]);
    assert.notEqual(t.snapshot().clusters[2], after.clusters[2], 'a replica change copies that cluster');
    assert.deepEqual(t.snapshot().clusters[2]?.replicas, [{ ip: '10.0.0.9', port: 9 }]);
  });

  it('reconfigure keeps kept clusters and drops removed ones', () => {
    const t = new TopologyStore([{ name: 'a', externalPort: 1 }, { name: 'b', externalPort: 2 }]);
    t.confirm('a', { ip: '10.0.0.1', port: 1 }, 1, ['s1'], null);
    t.reconfigure([{ name: 'a', externalPort: 5 }, { name: 'c', externalPort: 3 }]);
    assert.deepEqual(t.snapshot().clusters.map((c) => [c.name, c.externalPort, c.master?.ip ?? null]), [['a', 5, '10.0.0.1'], ['c', 3, null]]);
  });
});
