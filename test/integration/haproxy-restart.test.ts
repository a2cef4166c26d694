import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { routedTo, startCluster, useCleanup, waitFor } from '../harness/index.js';
import { runBin, waitListening } from '../support/daemon-process.js';
import { prepareHaproxy } from '../support/haproxy-setup.js';
import { FAST_WATCHER } from '../support/watch.js';

const reloads = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).length : 0);

/** A daemon restart must never empty or reload HAProxy when nothing changed (real haproxy + sentinels). */
describe('redishappy-haproxy restarts', { timeout: 120000 }, () => {
  const cleanup = useCleanup();

  it('restart with the sentinels unreachable leaves HAProxy untouched; when they return nothing is reloaded', async () => {
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 0, sentinels: 1 });
    const setup = await prepareHaproxy(cleanup, cluster, { runtime: true, extra: { Watcher: { ...FAST_WATCHER, StartupGraceMs: 1000 } } });
    const ext = setup.externalPorts.get('testing')!;
    const master = cluster.masters.get('testing')!;
    const args = ['-config', setup.configPath, '-bind', `127.0.0.1:${setup.apiPort}`];
    const first = runBin(cleanup, 'redishappy-haproxy', args);
    await waitListening(first);
    await waitFor(async () => (await routedTo(ext)) === master.port, { timeoutMs: 15000, what: 'routing' });
    const written = readFileSync(setup.outputPath, 'utf8');
    assert.equal(reloads(setup.reloadLog), 1);

    first.child.kill('SIGKILL');
    await first.exited;
    await cluster.sentinels[0]!.kill('SIGKILL');
    const second = runBin(cleanup, 'redishappy-haproxy', args);
    await waitListening(second);
    await waitFor(() => second.logs().some((l) => l.msg === 'no master confirmed yet; outputs left untouched until one is'), { timeoutMs: 10000, what: 'grace period over with nothing confirmed' });
    assert.equal(readFileSync(setup.outputPath, 'utf8'), written, 'file untouched');
    assert.equal(reloads(setup.reloadLog), 1, 'no reload');
    assert.equal(await routedTo(ext), master.port, 'HAProxy kept serving throughout');

    await cluster.sentinels[0]!.restart();
    await waitFor(async () => {
      const status = (await (await fetch(`http://127.0.0.1:${setup.apiPort}/api/outputs`)).json()) as { outputs: Array<{ appliedVersion: number | null }> };
      return status.outputs[0]?.appliedVersion !== null;
    }, { timeoutMs: 15000, what: 'output applied after the sentinel came back' });
    assert.equal(reloads(setup.reloadLog), 1, 'same master: nothing reloaded');
    assert.equal(readFileSync(setup.outputPath, 'utf8'), written);
  });
});
