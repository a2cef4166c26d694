import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { retryOnPortClash, routedTo, startCluster, useCleanup, waitFor } from '../harness/index.js';
import { ANY_PORT, runBin, waitListening } from '../support/daemon-process.js';
import { startHaproxyDaemon } from '../support/haproxy-setup.js';
import { FAST_WATCHER } from '../support/watch.js';

const reloads = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).length : 0);

/** A daemon restart must never empty or reload HAProxy when nothing changed (real haproxy + sentinels). */
describe('redishappy-haproxy restarts', { timeout: 120000 }, () => {
  const cleanup = useCleanup();

  it('restart with the sentinels unreachable leaves HAProxy untouched; when they return nothing is reloaded', async () => {
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 0, sentinels: 1 });
    const master = cluster.masters.get('testing')!;
    const { setup, daemon: first, api: firstApi } = await startHaproxyDaemon(cleanup, cluster, { runtime: true, extra: { Watcher: { ...FAST_WATCHER, StartupGraceMs: 1000 } } });
    const ext = setup.externalPorts.get('testing')!;
    assert.equal(await routedTo(ext), master.port, 'routing');
    const written = readFileSync(setup.outputPath, 'utf8');
    assert.equal(reloads(setup.reloadLog), 1);

    first.child.kill('SIGKILL');
    await first.exited;
    await cluster.sentinels[0]!.kill('SIGKILL');
    // Restarted as a service manager would: same configuration, same API address (the port the
    // kernel gave the first daemon). That port is free again since the kill, but another process
    // may take it before the second daemon binds it: on "address already in use" the second daemon
    // is started again on a port the kernel picks (the address is not what this test is about).
    const { second, api } = await retryOnPortClash(cleanup, 'the restarted redishappy', async (scope, attempt) => {
      const bind = attempt === 1 ? new URL(firstApi).host : ANY_PORT;
      const d = runBin(scope, 'redishappy-haproxy', ['-config', setup.configPath, '-bind', bind]);
      return { second: d, api: await waitListening(d) };
    });
    await waitFor(() => second.logs().some((l) => l.msg === 'no master confirmed yet; outputs left untouched until one is'), { timeoutMs: 10000, what: 'grace period over with nothing confirmed' });
    assert.equal(readFileSync(setup.outputPath, 'utf8'), written, 'file untouched');
    assert.equal(reloads(setup.reloadLog), 1, 'no reload');
    assert.equal(await routedTo(ext), master.port, 'HAProxy kept serving throughout');

    await cluster.sentinels[0]!.restart();
    await waitFor(async () => {
      const status = (await (await fetch(`${api}/api/outputs`)).json()) as { outputs: Array<{ appliedVersion: number | null }> };
      return status.outputs[0]?.appliedVersion !== null;
    }, { timeoutMs: 15000, what: 'output applied after the sentinel came back' });
    assert.equal(reloads(setup.reloadLog), 1, 'same master: nothing reloaded');
    assert.equal(readFileSync(setup.outputPath, 'utf8'), written);
  });
});
