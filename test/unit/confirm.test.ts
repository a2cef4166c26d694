import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { chooseMaster, isPlaceholder, type SentinelView } from '../../src/sentinel/confirm.js';

const v = (sentinel: string, ip: string, port: number, configEpoch: number, flags: string[] = ['master']): SentinelView => ({ sentinel, ip, port, configEpoch, flags });

describe('confirmed-master rule', () => {
  it('picks the address named at the highest config-epoch and lists who agrees', () => {
    const d = chooseMaster([v('s1', '10.0.0.2', 6379, 3), v('s2', '10.0.0.2', 6379, 3), v('s3', '10.0.0.1', 6379, 2)]);
    assert.deepEqual(d, { kind: 'candidate', master: { ip: '10.0.0.2', port: 6379 }, configEpoch: 3, agreeing: ['s1', 's2'] });
  });

  it('a stale sentinel (lower epoch) cannot win even when it is the majority', () => {
    const d = chooseMaster([v('s1', 'old', 1, 1), v('s2', 'old', 1, 1), v('s3', 'new', 2, 2)]);
    assert.equal(d.kind, 'candidate');
    assert.deepEqual(d.kind === 'candidate' && d.master, { ip: 'new', port: 2 });
  });

  it('never goes below the epoch already confirmed', () => {
    const d = chooseMaster([v('s1', 'old', 1, 4), v('s2', 'old', 1, 4)], 5);
    assert.equal(d.kind, 'none');
  });

  it('holds on disagreement at the same epoch', () => {
    assert.equal(chooseMaster([v('s1', 'a', 1, 3), v('s2', 'b', 1, 3)]).kind, 'none');
  });

  it('ignores placeholders and unknown clusters', () => {
    for (const [ip, port] of [['', 6379], ['0.0.0.0', 6379], ['::', 6379], ['10.0.0.1', 0]] as const) assert.ok(isPlaceholder(ip, port));
    assert.equal(chooseMaster([]).kind, 'none');
    assert.equal(chooseMaster([v('s1', '0.0.0.0', 6379, 9)]).kind, 'none');
    const d = chooseMaster([v('s1', '0.0.0.0', 0, 9), v('s2', '10.0.0.1', 6379, 1)]);
    assert.deepEqual(d.kind === 'candidate' && d.master, { ip: '10.0.0.1', port: 6379 });
  });

  it('during a failover, the leader\'s in-progress view of the old master does not block the settled new one', () => {
    const d = chooseMaster([v('leader', 'old', 1, 1, ['master', 'failover_in_progress', 'force_failover']), v('s2', 'new', 2, 1), v('s3', 'new', 2, 1, ['master', 'disconnected'])]);
    assert.deepEqual(d, { kind: 'candidate', master: { ip: 'new', port: 2 }, configEpoch: 1, agreeing: ['s2', 's3'] });
    assert.equal(chooseMaster([v('leader', 'old', 1, 1, ['master', 'failover_in_progress']), v('s2', 'old', 1, 0)]).kind, 'none');
  });

  it('does not confirm a master every top view marks objectively down or failing over', () => {
    assert.equal(chooseMaster([v('s1', 'a', 1, 3, ['master', 's_down', 'o_down'])]).kind, 'none');
    assert.equal(chooseMaster([v('s1', 'a', 1, 3, ['master', 'failover_in_progress'])]).kind, 'none');
    assert.equal(chooseMaster([v('s1', 'a', 1, 3, ['master', 's_down'])]).kind, 'candidate');
  });

  it('property: a candidate always carries the maximum usable epoch and is never a placeholder', () => {
    const view = fc.record({
      sentinel: fc.constantFrom('s1', 's2', 's3', 's4'),
      ip: fc.constantFrom('', '0.0.0.0', '::', '10.0.0.1', '10.0.0.2'),
      port: fc.constantFrom(0, 6379, 6380),
      configEpoch: fc.nat(5),
      flags: fc.constantFrom(['master'], ['master', 'o_down']),
    });
    fc.assert(
      fc.property(fc.array(view, { maxLength: 6 }), fc.nat(5), (views, minEpoch) => {
        const d = chooseMaster(views, minEpoch);
        if (d.kind !== 'candidate') return true;
        const usable = views.filter((x) => !isPlaceholder(x.ip, x.port) && x.configEpoch >= minEpoch);
        return !isPlaceholder(d.master.ip, d.master.port) && d.configEpoch >= minEpoch && d.configEpoch === Math.max(...usable.map((x) => x.configEpoch));
      }),
      { seed: 42, numRuns: 2000 },
    );
  });
});
