import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { routedTo, startCluster, useCleanup, waitFor } from '../harness/index.js';
import { startHaproxyDaemon } from '../support/haproxy-setup.js';
import { editJson } from '../support/paths.js';

const reloads = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).length : 0);

/** Several clusters failing over together are applied together (real haproxy + sentinels). */
describe('redishappy-haproxy: simultaneous failovers', { timeout: 150000 }, () => {
  const cleanup = useCleanup();

  it('three clusters failing over at once: every one followed, one reload (ReloadSettleMs)', async () => {
    const names = ['alpha', 'beta', 'gamma'];
    const cluster = await startCluster(cleanup, { names, replicas: 1, sentinels: 3 });
    // The HAProxy section with a settle window; the API on a port the kernel picks; every cluster
    // routed to its master (started again on new ports if HAProxy could not bind a frontend's).
    const { setup, api } = await startHaproxyDaemon(cleanup, cluster, { runtime: false, edit: (s) => editJson(s.configPath, (cfg) => (cfg.HAProxy.ReloadSettleMs = 1500)) });
    for (const n of names) assert.equal(await routedTo(setup.externalPorts.get(n)!), cluster.masters.get(n)!.port, `${n} routed`);
    assert.equal(reloads(setup.reloadLog), 1, 'the start-up state is one reload, whatever the number of clusters');

    await Promise.all(names.map((n) => cluster.forceFailover(n, cluster.sentinels[0]!)));
    for (const n of names) {
      const replica = cluster.replicas.get(n)![0]!;
      await waitFor(async () => (await routedTo(setup.externalPorts.get(n)!).catch(() => 0)) === replica.port, { timeoutMs: 30000, what: `${n} switched` });
    }
    // Sentinel decides when each failover ends: one reload when the three confirmations fell within
    // the settle window of the first (the usual case), else one per burst, never one per failover.
    const events = ((await (await fetch(`${api}/api/events`)).json()) as { events: Array<{ type: string; at: string; from: unknown }> }).events;
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
    // A re-apply by front-door verification (a reload slower than its deadline on a loaded host) is
    // its own mechanism, counted apart: what is asserted here is that failovers are coalesced.
    const outputs = ((await (await fetch(`${api}/api/outputs`)).json()) as { outputs: Array<{ name: string; details?: Record<string, unknown> }> }).outputs;
    const reapplies = Number(outputs.find((o) => o.name === 'haproxy')?.details?.verifyReapplies ?? 0);
    const failoverReloads = reloads(setup.reloadLog) - 1 - reapplies;
    const when = `confirmed at +${confirmed.map((t) => t - confirmed[0]!).join(', +')} ms`;
    assert.ok(failoverReloads >= 1 && failoverReloads <= bursts, `${failoverReloads} reloads for ${bursts} burst(s) of failovers (${when}; ${reapplies} verification re-applies not counted)`);
  });
});
