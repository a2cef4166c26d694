import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { routedTo, startCluster, useCleanup, waitFor } from '../harness/index.js';
import { runBin, waitListening } from '../support/daemon-process.js';
import { prepareHaproxy } from '../support/haproxy-setup.js';

const reloads = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).length : 0);

/** Several clusters failing over together are applied together (real haproxy + sentinels). */
describe('redishappy-haproxy: simultaneous failovers', { timeout: 150000 }, () => {
  const cleanup = useCleanup();

  it('three clusters failing over at once: every one followed, one reload (ReloadSettleMs)', async () => {
    const names = ['alpha', 'beta', 'gamma'];
    const cluster = await startCluster(cleanup, { names, replicas: 1, sentinels: 3 });
    const setup = await prepareHaproxy(cleanup, cluster, { runtime: false, extra: {} });
    // Rewrite the HAProxy section with a settle window.
    const cfg = JSON.parse(readFileSync(setup.configPath, 'utf8')) as { HAProxy: Record<string, unknown> };
    cfg.HAProxy.ReloadSettleMs = 1500;
    (await import('node:fs')).writeFileSync(setup.configPath, JSON.stringify(cfg));

    const d = runBin(cleanup, 'redishappy-haproxy', ['-config', setup.configPath, '-bind', `127.0.0.1:${setup.apiPort}`]);
    await waitListening(d);
    for (const n of names) await waitFor(async () => (await routedTo(setup.externalPorts.get(n)!)) === cluster.masters.get(n)!.port, { timeoutMs: 15000, what: `${n} routed` });
    assert.equal(reloads(setup.reloadLog), 1, 'the start-up state is one reload, whatever the number of clusters');

    await Promise.all(names.map((n) => cluster.forceFailover(n, cluster.sentinels[0]!)));
    for (const n of names) {
      const replica = cluster.replicas.get(n)![0]!;
      await waitFor(async () => (await routedTo(setup.externalPorts.get(n)!).catch(() => 0)) === replica.port, { timeoutMs: 30000, what: `${n} switched` });
    }
    // Sentinel decides when each failover ends: one reload when the three confirmations fell within
    // the settle window of the first (the usual case), else one per burst, never one per failover.
    const events = ((await (await fetch(`http://127.0.0.1:${setup.apiPort}/api/events`)).json()) as { events: Array<{ type: string; at: string; from: unknown }> }).events;
    const confirmed = events.filter((e) => e.type === 'failover' && e.from !== null).map((e) => Date.parse(e.at)).sort((a, b) => a - b);
    assert.equal(confirmed.length, 3, 'three failovers confirmed');
    let bursts = 1;
    let start = confirmed[0]!;
    for (const t of confirmed.slice(1)) {
      if (t - start > 1500) {
        bursts++;
        start = t;
      }
    }
    const failoverReloads = reloads(setup.reloadLog) - 1;
    const when = `confirmed at +${confirmed.map((t) => t - confirmed[0]!).join(', +')} ms`;
    assert.ok(failoverReloads >= 1 && failoverReloads <= bursts, `${failoverReloads} reloads for ${bursts} burst(s) of failovers (${when})`);
  });
});
