import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { routedTo, useCleanup, waitFor } from '../harness/index.js';
import { chaosRig } from './setup.js';
import { summarize, WriterPool } from './writer.js';

describe('chaos 5: the daemon killed -9', { timeout: 150000 }, () => {
  const cleanup = useCleanup();

  it('in steady state: HAProxy keeps serving; the restart reloads nothing', async () => {
    const rig = await chaosRig(cleanup);
    const master = rig.cluster.masters.get('testing')!;
    const writers = new WriterPool(rig.ext, 'c5a');
    cleanup.add(() => writers.stop());
    const reloads = rig.reloads();
    rig.daemon.child.kill('SIGKILL');
    await rig.daemon.exited;
    const n = writers.acks.length;
    await waitFor(() => writers.acks.length > n + 300, { timeoutMs: 10000, what: 'writes with the daemon dead' });
    await rig.startDaemon();
    await waitFor(async () => {
      const o = await rig.api<{ outputs: Array<{ appliedVersion: number | null }> }>('/api/outputs');
      return o.outputs[0]?.appliedVersion !== null;
    }, { timeoutMs: 15000, what: 'restarted daemon applied' });
    await writers.stop();
    assert.equal(rig.reloads(), reloads, 'no reload after the restart');
    const s = await summarize('daemon-kill-steady', writers.acks, rig.switches, master.port);
    assert.ok(s.unavailable_ms < 1000, `writes stalled ${s.unavailable_ms} ms`);
    assert.ok(writers.acks.every((a) => a.node === master.port));
  });

  it('in the middle of an apply: the file on disk is always the old or the new complete file', async () => {
    // Reload mode with a slow reload, so the daemon can be killed while applying.
    const rig = await chaosRig(cleanup, { runtime: false });
    const cfg = JSON.parse(readFileSync(rig.setup.configPath, 'utf8')) as { HAProxy: { ReloadCommand: string } };
    // The reload only happens if the daemon ($PPID of the shell) is still alive after a second,
    // so killing the daemon in that second leaves HAProxy on the old file: the crash to recover from.
    cfg.HAProxy.ReloadCommand = `sleep 1 && kill -0 $PPID 2>/dev/null && ${cfg.HAProxy.ReloadCommand}`;
    (await import('node:fs')).writeFileSync(rig.setup.configPath, JSON.stringify(cfg));
    rig.daemon.child.kill('SIGHUP');
    await waitFor(() => rig.daemon.logs().some((l) => l.msg === 'configuration reloaded'), { timeoutMs: 5000, what: 'config reloaded' });
    const oldText = readFileSync(rig.setup.outputPath, 'utf8');
    const master = rig.cluster.masters.get('testing')!;
    const replica = rig.cluster.replicas.get('testing')![0]!;
    const seen = new Set<string>();
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        seen.add(readFileSync(rig.setup.outputPath, 'utf8'));
        await new Promise((r) => setImmediate(r));
      }
    })();
    await master.kill('SIGKILL');
    // Kill the daemon while the (slow) reload of the failover runs.
    await waitFor(() => readFileSync(rig.setup.outputPath, 'utf8') !== oldText, { timeoutMs: 30000, what: 'new file written' });
    rig.daemon.child.kill('SIGKILL');
    await rig.daemon.exited;
    watching = false;
    await watcher;
    const newText = readFileSync(rig.setup.outputPath, 'utf8');
    assert.match(newText, new RegExp(`127\\.0\\.0\\.1:${replica.port} `));
    for (const text of seen) assert.ok(text === oldText || text === newText, 'a partial file was visible');
    const reloadsBefore = rig.reloads();
    await new Promise((r) => setTimeout(r, 1500)); // the orphaned reload command gives up
    assert.equal(rig.reloads(), reloadsBefore, 'the interrupted reload did not happen');
    // The restarted daemon finds the file already new but knows (pending-reload marker) that
    // HAProxy may still run the old one, and reloads.
    await rig.startDaemon();
    await waitFor(async () => (await routedTo(rig.ext).catch(() => 0)) === replica.port, { timeoutMs: 20000, what: 'HAProxy on the new master after the restart' });
    assert.equal(rig.reloads(), reloadsBefore + 1);
  });
});
