import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { routedTo, useCleanup, waitFor } from '../harness/index.js';
import { ConsulStandIn } from '../support/consul-standin.js';
import { runBin, waitListening } from '../support/daemon-process.js';
import { chaosRig } from './setup.js';
import { summarize, WriterPool } from './writer.js';

type Outputs = { outputs: Array<{ name: string; lastError: string | null; appliedVersion: number | null }> };

describe('chaos 6: a reload command that fails or hangs, a Consul that is down or slow', { timeout: 150000 }, () => {
  const cleanup = useCleanup();

  it('the watcher and the other output keep working, failures are visible, and everything recovers by itself', async () => {
    const marker = join(mkdtempSync(join(tmpdir(), 'rh-c6-')), 'reload-ok');
    writeFileSync(marker, '');
    const consul = new ConsulStandIn();
    await consul.start();
    cleanup.add(() => consul.stop());
    const rig = await chaosRig(cleanup, { runtime: false });
    // Same daemon, now with a reload that works only while the marker exists, and a Consul output.
    const cfg = JSON.parse(readFileSync(rig.setup.configPath, 'utf8')) as Record<string, Record<string, unknown>>;
    cfg.HAProxy!.ReloadCommand = `test -e ${marker} || { echo "reload refused" >&2; exit 3; }; ${String(cfg.HAProxy!.ReloadCommand)}`;
    cfg.HAProxy!.ReloadTimeoutMs = 1000;
    cfg.Consul = { Address: consul.address, TimeoutMs: 300, ReconcileIntervalMs: 500 };
    writeFileSync(rig.setup.configPath, JSON.stringify(cfg));
    rig.daemon.child.kill('SIGTERM');
    await rig.daemon.exited;
    const d = runBin(cleanup, 'redishappy', ['-config', rig.setup.configPath, '-bind', `127.0.0.1:${rig.setup.apiPort}`]);
    await waitListening(d);
    await waitFor(() => consul.agentServices.size === 1, { timeoutMs: 10000, what: 'Consul registration' });
    const outputs = () => rig.api<Outputs>('/api/outputs');
    const metrics = async () => (await fetch(`http://127.0.0.1:${rig.setup.apiPort}/metrics`)).text();

    const writers = new WriterPool(rig.ext, 'c6');
    cleanup.add(() => writers.stop());
    // Break both: the reload fails, Consul answers slower than the timeout.
    rmSync(marker);
    consul.setDelay(2000);
    const master = rig.cluster.masters.get('testing')!;
    const replica = rig.cluster.replicas.get('testing')![0]!;
    await master.kill('SIGKILL');
    await waitFor(async () => (await rig.api<Array<{ port: number }>>('/api/topology'))[0]?.port === replica.port, { timeoutMs: 30000, what: 'the watcher confirms the new master' });
    await waitFor(async () => {
      const o = (await outputs()).outputs;
      return o.find((x) => x.name === 'haproxy')?.lastError?.includes('reload refused') && o.find((x) => x.name === 'consul')?.lastError ? o : undefined;
    }, { timeoutMs: 15000, what: 'both failures visible in /api/outputs' });
    assert.match(await metrics(), /^redishappy_output_in_error\{output="haproxy"\} 1$/m);
    assert.match(await metrics(), /^redishappy_output_in_error\{output="consul"\} 1$/m);
    assert.equal((await fetch(`http://127.0.0.1:${rig.setup.apiPort}/api/ping`)).status, 200);

    // Then a hanging reload: killed at ReloadTimeoutMs, still failing visibly.
    // Repair both: they catch up on their own (retries with backoff).
    writeFileSync(marker, '');
    consul.setDelay(0);
    await waitFor(async () => (await routedTo(rig.ext).catch(() => 0)) === replica.port, { timeoutMs: 40000, what: 'HAProxy catches up' });
    await waitFor(() => consul.agentServices.get('redishappy-consul-testing')?.Port === replica.port, { timeoutMs: 40000, what: 'Consul catches up' });
    await waitFor(async () => (await outputs()).outputs.every((o) => o.lastError === null), { timeoutMs: 10000, what: 'errors cleared' });
    const n = writers.acks.length;
    await waitFor(() => writers.acks.length > n + 200, { timeoutMs: 10000, what: 'writes after recovery' });
    await writers.stop();
    const s = await summarize('reload-failing-consul-slow', writers.acks, rig.switches, replica.port);
    assert.equal(s.acked_by_unconfirmed_master, 0);
    assert.equal(s.lost_after_switch, 0);
  });

  it('a hanging reload command is killed at its timeout and retried', async () => {
    const rig = await chaosRig(cleanup, { runtime: false });
    const cfg = JSON.parse(readFileSync(rig.setup.configPath, 'utf8')) as Record<string, Record<string, unknown>>;
    const hang = join(mkdtempSync(join(tmpdir(), 'rh-c6b-')), 'hang');
    writeFileSync(hang, '');
    cfg.HAProxy!.ReloadCommand = `if [ -e ${hang} ]; then sleep 60; fi; ${String(cfg.HAProxy!.ReloadCommand)}`;
    cfg.HAProxy!.ReloadTimeoutMs = 500;
    writeFileSync(rig.setup.configPath, JSON.stringify(cfg));
    rig.daemon.child.kill('SIGHUP');
    await waitFor(() => rig.daemon.logs().some((l) => l.msg === 'configuration reloaded'), { timeoutMs: 5000, what: 'config reloaded' });
    const replica = rig.cluster.replicas.get('testing')![0]!;
    await rig.cluster.masters.get('testing')!.kill('SIGKILL');
    await waitFor(async () => {
      const o = (await rig.api<Outputs>('/api/outputs')).outputs[0];
      return o?.lastError?.includes('500') ? o : undefined;
    }, { timeoutMs: 30000, what: 'reload timeout visible' });
    rmSync(hang);
    await waitFor(async () => (await routedTo(rig.ext).catch(() => 0)) === replica.port, { timeoutMs: 40000, what: 'recovered after the hang stopped' });
  });
});
