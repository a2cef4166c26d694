import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { SentinelLink, type LinkListener } from '../../src/sentinel/link.js';
import { startCluster, testCleanup, waitFor } from '../harness/index.js';

/**
 * Issue 23: discovery (SENTINEL SENTINELS) asks every cluster at once only after a connect; then
 * each poll asks a slice, so that every cluster is still asked once per DiscoveryIntervalMs and
 * 1,000 clusters are not 1,000 commands every 10 s. One real sentinel watching 12 masters.
 */
describe('discovery spread over the polls (real sentinel)', { timeout: 120000 }, () => {
  it('asks all clusters after the connect, then small slices that cover every cluster each interval', async (t) => {
    const cleanup = testCleanup(t);
    const names = Array.from({ length: 12 }, (_, i) => `c${String(i).padStart(2, '0')}`);
    const cluster = await startCluster(cleanup, { names, replicas: 0, sentinels: 1 });
    const sentinel = cluster.sentinels[0]!;
    const asked: Array<{ at: number; names: string[] }> = [];
    const listener: LinkListener = {
      onState: () => {},
      onViews: () => {},
      onMessage: () => {},
      onPeers: (_link, peers) => void asked.push({ at: Date.now(), names: [...peers.keys()] }),
      needsFullPolls: () => false,
    };
    const timing = { pollIntervalMs: 100, discoveryIntervalMs: 1200, reconnectMinMs: 100, reconnectMaxMs: 500 };
    const link = new SentinelLink(sentinel.host, sentinel.port, true, { credentials: {}, timeoutMs: 2000, keepAliveSeconds: 0 }, undefined, timing, () => names, listener, pino({ level: 'silent' }));
    cleanup.add(() => link.stop());
    link.start();
    await waitFor(() => asked.length > 0, { timeoutMs: 10000, what: 'the first discovery' });
    assert.deepEqual([...asked[0]!.names].sort(), names, 'the first discovery after the connect asks every cluster');
    const after = asked.length;
    // Three intervals of polls.
    await waitFor(() => asked.length > after && Date.now() - asked[after]!.at >= 3 * timing.discoveryIntervalMs, { timeoutMs: 20000, what: 'three discovery intervals of polls' });
    const later = asked.slice(after);
    // Spread: no poll asks more than its share of the time since the previous one (12 × 100 / 1200
    // = 1 per poll on time, plus a carried fraction; a poll that a loaded host delayed owes more).
    const share = (i: number) => Math.ceil((names.length * (later[i]!.at - asked[after + i - 1]!.at)) / timing.discoveryIntervalMs) + 1;
    assert.ok(later.every((a, i) => a.names.length <= share(i)), `slices (share): ${later.map((a, i) => `${a.names.length} (${share(i)})`).join(', ')}`);
    assert.ok(later.filter((a) => a.names.length <= 2).length >= later.length * 0.8, `mostly small slices: ${later.map((a) => a.names.length).join(',')}`);
    // Covered: every cluster asked in each interval (three intervals: at least twice each).
    const times = new Map(names.map((n) => [n, later.filter((a) => a.names.includes(n)).length]));
    assert.ok([...times.values()].every((n) => n >= 2), `asks per cluster: ${JSON.stringify(Object.fromEntries(times))}`);
    assert.ok(link.lightPolls > 0, 'the polls stay cheap (INFO sentinel) while discovery goes on');
  });
});
