import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { useCleanup, waitFor } from '../harness/index.js';
import { chaosRig } from './setup.js';
import { summarize, WriterPool } from './writer.js';

type Sentinels = { sentinels: Record<string, { state: number }> };

describe('chaos 3: sentinels lost and restarted', { timeout: 120000 }, () => {
  const cleanup = useCleanup();
  it('one down, all down, all back: the confirmed master stays in service, nothing flaps, nothing reloads', async () => {
    const rig = await chaosRig(cleanup);
    const master = rig.cluster.masters.get('testing')!;
    const writers = new WriterPool(rig.ext, 'c3');
    cleanup.add(() => writers.stop());
    const reloads = rig.reloads();
    const states = async () => Object.values((await rig.api<Sentinels>('/api/sentinels')).sentinels).map((s) => s.state);
    await waitFor(async () => (await states()).filter((s) => s === 3).length === 3, { timeoutMs: 10000, what: 'all alive' });

    await rig.cluster.sentinels[0]!.kill('SIGKILL');
    await waitFor(async () => (await states()).filter((s) => s === 2).length === 1, { timeoutMs: 10000, what: 'one marked down' });
    await Promise.all(rig.cluster.sentinels.slice(1).map((s) => s.kill('SIGKILL')));
    await waitFor(async () => (await states()).every((s) => s === 2), { timeoutMs: 10000, what: 'all marked down' });
    const n = writers.acks.length;
    await waitFor(() => writers.acks.length > n + 200, { timeoutMs: 10000, what: 'writes continue with every sentinel down' });

    await Promise.all(rig.cluster.sentinels.map((s) => s.restart()));
    await waitFor(async () => (await states()).every((s) => s === 3), { timeoutMs: 20000, what: 'all alive again' });
    const m = writers.acks.length;
    await waitFor(() => writers.acks.length > m + 200, { timeoutMs: 10000, what: 'writes after restart' });
    await writers.stop();
    const topo = await rig.api<Array<{ port: number }>>('/api/topology');
    assert.equal(topo[0]!.port, master.port);
    assert.equal(rig.reloads(), reloads, 'no reload');
    assert.equal(rig.switches.length, 0, 'no failover happened');
    assert.ok(writers.acks.every((a) => a.node === master.port));
    const s = await summarize('sentinels-lost-and-restarted', writers.acks, rig.switches, master.port);
    assert.ok(s.unavailable_ms < 2000, `writes stalled for ${s.unavailable_ms} ms`);
  });
});
