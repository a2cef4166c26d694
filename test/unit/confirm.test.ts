import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { chooseMaster, isPlaceholder, isSettled, quorumFor, type SentinelView } from '../../src/sentinel/confirm.js';
import { groupOf } from '../../src/sentinel/group.js';

const v = (sentinel: string, ip: string, port: number, configEpoch: number, flags: string[] = ['master']): SentinelView => ({ sentinel, ip, port, configEpoch, flags });
const q = (quorum: number, minEpoch = 0) => ({ quorum, minEpoch });

describe('confirmed-master rule (quorum)', () => {
  it('picks the highest epoch that a quorum names, and lists who agrees', () => {
    const d = chooseMaster([v('s1', '10.0.0.2', 6379, 3), v('s2', '10.0.0.2', 6379, 3), v('s3', '10.0.0.1', 6379, 2)], q(2));
    assert.deepEqual(d, { kind: 'candidate', master: { ip: '10.0.0.2', port: 6379 }, configEpoch: 3, agreeing: ['s1', 's2'] });
  });

  it('a higher epoch named by fewer than the quorum is not adopted and does not block a lower quorum-backed one', () => {
    // The rogue at epoch 50 neither wins nor freezes the real group's epoch-1 failover.
    const d = chooseMaster([v('rogue', 'other', 1, 50), v('s1', 'new', 2, 1), v('s2', 'new', 2, 1), v('s3', 'old', 1, 0)], q(2));
    assert.deepEqual(d.kind === 'candidate' && d.master, { ip: 'new', port: 2 });
    assert.equal(chooseMaster([v('rogue', 'other', 1, 50), v('s1', 'real', 1, 0)], q(2)).kind, 'none');
  });

  it('one sentinel cannot confirm when two are needed; the second agreeing view does', () => {
    assert.equal(chooseMaster([v('s1', 'new', 2, 1)], q(2)).kind, 'none');
    assert.equal(chooseMaster([v('s1', 'new', 2, 1), v('s2', 'new', 2, 1)], q(2)).kind, 'candidate');
    // The same sentinel twice counts once.
    assert.equal(chooseMaster([v('s1', 'new', 2, 1), v('s1', 'new', 2, 1)], q(2)).kind, 'none');
  });

  it('a quorum below the confirmed epoch is reported as below-floor (a rebuilt group), never as a candidate', () => {
    const d = chooseMaster([v('s1', 'old', 1, 4), v('s2', 'old', 1, 4)], q(2, 5));
    assert.equal(d.kind, 'below-floor');
    assert.equal(chooseMaster([v('s1', 'old', 1, 4)], q(2, 5)).kind, 'none');
  });

  it('holds when two addresses both reach the quorum at the same epoch', () => {
    const d = chooseMaster([v('s1', 'a', 1, 3), v('s2', 'b', 1, 3)], q(1));
    assert.equal(d.kind, 'none');
    assert.match(d.kind === 'none' ? d.reason : '', /disagree at config-epoch 3/);
  });

  it('names the sentinels and what each claims when there is no quorum', () => {
    const d = chooseMaster([v('127.0.0.1:1', '10.0.0.1', 6379, 1), v('127.0.0.1:2', '10.0.0.9', 6379, 50)], q(2));
    assert.equal(d.kind, 'none');
    assert.match(d.kind === 'none' ? d.reason : '', /127\.0\.0\.1:1 names 10\.0\.0\.1:6379 at epoch 1; 127\.0\.0\.1:2 names 10\.0\.0\.9:6379 at epoch 50/);
  });

  it('ignores placeholders', () => {
    for (const [ip, port] of [['', 6379], ['0.0.0.0', 6379], ['::', 6379], ['10.0.0.1', 0]] as const) assert.ok(isPlaceholder(ip, port));
    assert.equal(chooseMaster([], q(1)).kind, 'none');
    assert.equal(chooseMaster([v('s1', '0.0.0.0', 6379, 9), v('s2', '0.0.0.0', 6379, 9)], q(2)).kind, 'none');
    const d = chooseMaster([v('s1', '0.0.0.0', 0, 9), v('s2', '10.0.0.1', 6379, 1)], q(1));
    assert.deepEqual(d.kind === 'candidate' && d.master, { ip: '10.0.0.1', port: 6379 });
  });

  it('during a failover, the leader\'s in-progress view does not count, the settled views do', () => {
    const d = chooseMaster([v('leader', 'old', 1, 1, ['master', 'failover_in_progress', 'force_failover']), v('s2', 'new', 2, 1), v('s3', 'new', 2, 1, ['master', 'disconnected'])], q(2));
    assert.deepEqual(d, { kind: 'candidate', master: { ip: 'new', port: 2 }, configEpoch: 1, agreeing: ['s2', 's3'] });
    assert.equal(chooseMaster([v('s1', 'a', 1, 3, ['master', 's_down', 'o_down']), v('s2', 'a', 1, 3, ['master', 'o_down'])], q(2)).kind, 'none');
    assert.equal(chooseMaster([v('s1', 'a', 1, 3, ['master', 's_down']), v('s2', 'a', 1, 3)], q(2)).kind, 'candidate');
  });

  it('quorum: a majority of the known sentinels, or the configured number', () => {
    assert.deepEqual([1, 2, 3, 4, 5].map((n) => quorumFor('majority', n)), [1, 2, 2, 3, 3]);
    assert.equal(quorumFor(3, 5), 3);
  });

  const view = fc.record({
    sentinel: fc.constantFrom('s1', 's2', 's3', 's4', 's5'),
    ip: fc.constantFrom('', '0.0.0.0', '10.0.0.1', '10.0.0.2', '10.0.0.3'),
    port: fc.constantFrom(0, 6379),
    configEpoch: fc.nat(5),
    flags: fc.constantFrom(['master'], ['master', 'o_down'], ['master', 'failover_in_progress'], ['master', 's_down']),
  });
  // One view per sentinel, as the watcher passes them.
  const viewSet = fc.uniqueArray(view, { selector: (x) => x.sentinel, maxLength: 5 });

  it('property: no address ever wins without Q agreeing settled views at its epoch', () => {
    fc.assert(
      fc.property(viewSet, fc.integer({ min: 1, max: 4 }), fc.nat(5), (views, quorum, minEpoch) => {
        const d = chooseMaster(views, { quorum, minEpoch });
        if (d.kind === 'none') return true;
        const backing = views.filter((x) => x.ip === d.master.ip && x.port === d.master.port && x.configEpoch === d.configEpoch && isSettled(x.flags));
        return backing.length >= quorum && !isPlaceholder(d.master.ip, d.master.port) && (d.kind === 'below-floor' ? d.configEpoch < minEpoch : d.configEpoch >= minEpoch);
      }),
      { seed: 12, numRuns: 5000 },
    );
  });

  it('property: adding a single view never moves the decision to an address that view alone names', () => {
    fc.assert(
      fc.property(viewSet, fc.integer({ min: 2, max: 4 }), fc.nat(5), fc.nat(9), (views, quorum, minEpoch, epoch) => {
        const before = chooseMaster(views, { quorum, minEpoch });
        // A newcomer naming an address nobody else names, at any epoch (a rogue or stale sentinel).
        const after = chooseMaster([...views, v('rogue', '192.0.2.66', 6379, epoch)], { quorum, minEpoch });
        if (after.kind === 'none') return true;
        if (after.master.ip === '192.0.2.66') return false;
        // Nor can it move the decision to anything but what the others already back.
        return before.kind !== 'none' && before.master.ip === after.master.ip && before.configEpoch === after.configEpoch;
      }),
      { seed: 13, numRuns: 5000 },
    );
  });

  it('property: any single view added moves the decision only to an address already named by Q-1 others at that epoch', () => {
    fc.assert(
      fc.property(viewSet, view, fc.integer({ min: 2, max: 4 }), (views, extra, quorum) => {
        const others = views.filter((x) => x.sentinel !== extra.sentinel);
        const before = chooseMaster(others, { quorum });
        const after = chooseMaster([...others, extra], { quorum });
        if (after.kind === 'none' || (before.kind !== 'none' && before.master.ip === after.master.ip && before.master.port === after.master.port)) return true;
        const namedByOthers = others.filter((x) => x.ip === after.master.ip && x.port === after.master.port && x.configEpoch === after.configEpoch && isSettled(x.flags));
        return namedByOthers.length >= quorum - 1;
      }),
      { seed: 14, numRuns: 5000 },
    );
  });
});

describe('sentinel group (who counts for the quorum)', () => {
  const m = (key: string, listed: string[] | null) => ({ key, sentinel: key, id: null, listed: listed?.map((l) => ({ sentinel: l, id: null })) ?? null });

  it('leaves out a sentinel that lists none of the group and that none lists', () => {
    const g = groupOf([m('real1', ['real2', 'real3']), m('rogue', []), m('real2', null), m('real3', null)]);
    assert.deepEqual(g.counted, ['real1', 'real2', 'real3']);
    assert.deepEqual(g.outside, ['rogue']);
  });

  it('leaves nobody out while nobody lists anybody', () => {
    assert.deepEqual(groupOf([m('a', []), m('b', null)]).outside, []);
  });

  it('matches peers by sentinel id when the address differs', () => {
    const g = groupOf([
      { key: 'id-a', sentinel: 'a.example:26379', id: 'id-a', listed: [{ sentinel: '10.0.0.2:26379', id: 'id-b' }] },
      { key: 'id-b', sentinel: 'b.example:26379', id: 'id-b', listed: null },
      { key: 'id-c', sentinel: 'c.example:26379', id: 'id-c', listed: [] },
    ]);
    assert.deepEqual(g.counted, ['id-a', 'id-b']);
    assert.deepEqual(g.outside, ['id-c']);
  });

  // A group as the watcher sees it: `configured` members named in the config, the others discovered.
  const deployment = (prefix: string, size: number, configured: number) =>
    Array.from({ length: size }, (_, i) => ({
      ...m(`${prefix}${i + 1}`, Array.from({ length: size }, (_, j) => `${prefix}${j + 1}`).filter((_, j) => j !== i)),
      configured: i < configured,
    }));

  it('another deployment with peers of its own is left out, whatever its size (it never outvotes the real group)', () => {
    for (const foreign of [2, 3, 4, 5, 7]) {
      const g = groupOf([...deployment('real', 3, 2), ...deployment('other', foreign, 1)]);
      assert.deepEqual(g.counted, ['real1', 'real2', 'real3'], `foreign group of ${foreign}`);
      assert.equal(g.outside.length, foreign);
      assert.equal(quorumFor('majority', g.counted.length), 2);
    }
  });

  it('two unrelated groups with as many configured sentinels each: nobody counts, and both are named', () => {
    const g = groupOf([...deployment('real', 3, 1), ...deployment('other', 5, 1)]);
    assert.deepEqual(g.counted, []);
    assert.deepEqual(g.unrelated, [['real1', 'real2', 'real3'], ['other1', 'other2', 'other3', 'other4', 'other5']]);
  });

  it('the group that confirmed the current master keeps counting', () => {
    const members = [...deployment('real', 3, 1), ...deployment('other', 5, 1)];
    assert.deepEqual(groupOf(members, { anchor: ['real2', 'real3'] }).counted, ['real1', 'real2', 'real3']);
    assert.deepEqual(groupOf(members, { anchor: ['other1', 'other4'] }).counted, ['other1', 'other2', 'other3', 'other4', 'other5']);
  });

  it('before the first confirmation, waits for a configured sentinel that has not answered unless it is a known peer', () => {
    // real1 answered and lists real2/real3; `stray` (configured) has not answered yet.
    const pending = { ...m('stray', null), configured: true, pending: true };
    const g = groupOf([{ ...m('real1', ['real2', 'real3']), configured: true }, m('real2', null), m('real3', null), pending]);
    assert.deepEqual(g.waitingFor, ['stray']);
    assert.deepEqual(groupOf([{ ...m('real1', ['real2', 'real3']), configured: true }, m('real2', null), m('real3', null), pending], { anchor: ['real1', 'real2'] }).waitingFor, []);
    // A configured peer that has not answered yet but that real1 lists is no reason to wait.
    const peer = { ...m('real2', null), configured: true, pending: true };
    assert.deepEqual(groupOf([{ ...m('real1', ['real2', 'real3']), configured: true }, peer, m('real3', null)]).waitingFor, []);
  });

  it('property: a group never counts sentinels of two unrelated deployments, and the counted one holds the most configured', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 7 }), fc.nat(3), fc.nat(3), (a, b, ca, cb) => {
        const members = [...deployment('a', a, Math.min(ca, a)), ...deployment('b', b, Math.min(cb, b))];
        const g = groupOf(members);
        const hasA = g.counted.some((k) => k.startsWith('a'));
        const hasB = g.counted.some((k) => k.startsWith('b'));
        if (hasA && hasB) return a === 1 && b === 1; // two lone sentinels: nobody is linked yet
        const [na, nb] = [Math.min(ca, a), Math.min(cb, b)];
        if (a > 1 && b > 1) return na === nb ? g.unrelated !== null && g.counted.length === 0 : hasA === na > nb && hasB === nb > na;
        // A lone sentinel is left out next to a linked group.
        return a > 1 ? hasA && !hasB : hasB && !hasA;
      }),
      { seed: 15, numRuns: 2000 },
    );
  });
});
