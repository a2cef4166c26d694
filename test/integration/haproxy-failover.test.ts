import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { connectThrough, routedTo, startCluster, useCleanup, waitFor, within } from '../harness/index.js';
import { assertOldMasterNeverRouted } from '../support/faq.js';
import { startHaproxyDaemon } from '../support/haproxy-setup.js';
import { apiSentinels, waitForMorePolls } from '../support/polls.js';

const reloads = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).length : 0);

for (const runtime of [true, false]) {
  describe(`redishappy-haproxy end to end, ${runtime ? 'runtime API' : 'reload'} mode (real haproxy + sentinels)`, { timeout: 150000 }, () => {
    const cleanup = useCleanup();

    it('follows a kill -9 failover, never routes to the restarted old master, and reloads only on change', async () => {
      const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3 });
      const { setup, daemon: d, api } = await startHaproxyDaemon(cleanup, cluster, { runtime });
      const master = cluster.masters.get('testing')!;
      const replica = cluster.replicas.get('testing')![0]!;
      const ext = setup.externalPorts.get('testing')!;
      assert.equal(await routedTo(ext), master.port, 'HAProxy routes to the master');
      assert.equal(reloads(setup.reloadLog), 1, 'one reload at start-up');

      // Steady state and a sentinel restart: no reload.
      await cluster.sentinels[1]!.kill('SIGKILL');
      await cluster.sentinels[1]!.restart();
      await waitFor(async () => {
        const s = (await (await fetch(`${api}/api/sentinels`)).json()) as { sentinels: Record<string, { state: number }> };
        return Object.values(s.sentinels).length === 3 && Object.values(s.sentinels).every((x) => x.state === 3);
      }, { timeoutMs: 15000, what: 'sentinels alive after restart' });
      // "Alive" is set by the first poll; a reload caused by the return would follow it: only once
      // every sentinel has been polled again has the daemon handled the return.
      await waitForMorePolls(() => apiSentinels(api), { what: 'after the sentinel restart' });
      assert.equal(reloads(setup.reloadLog), 1, 'no reload on sentinel restart');

      // A client connected before the failover.
      const { client: early } = await connectThrough(ext);
      cleanup.add(() => early.disconnect());
      const earlyClosed = new Promise<void>((resolve) => early.once('end', () => resolve()));
      await early.set('before', '1');

      await master.kill('SIGKILL');
      await waitFor(async () => (await routedTo(ext).catch(() => 0)) === replica.port, { timeoutMs: 30000, what: 'HAProxy routes to the promoted replica' });
      if (runtime) {
        await within(earlyClosed, 10000, 'the pre-failover connection to be closed');
        assert.equal(reloads(setup.reloadLog), 1, 'runtime mode switches without a reload');
      } else {
        assert.equal(reloads(setup.reloadLog), 2, 'exactly one reload for the failover');
        early.disconnect();
      }
      // With the runtime API the file is written just after the live switch: wait for it.
      const rendered = await waitFor(() => {
        const text = readFileSync(setup.outputPath, 'utf8');
        return new RegExp(`server R_testing_1 127\\.0\\.0\\.1:${replica.port} `).test(text) ? text : undefined;
      }, { timeoutMs: 5000, what: 'the file to name the new master' });
      assert.doesNotMatch(rendered, /:0 /);

      // The FAQ scenario: the old master comes back announcing itself as master; it must never get a client.
      await assertOldMasterNeverRouted(ext, master, replica.port, 'HAProxy');
      d.child.kill('SIGTERM');
      assert.equal(await d.exited, 0);
    });
  });
}

describe('redishappy-haproxy rejects what HAProxy rejects (real haproxy)', { timeout: 90000 }, () => {
  const cleanup = useCleanup();
  it('a template that fails haproxy -c keeps the old file, shows the error, and the daemon stays healthy', async () => {
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 0, sentinels: 1 });
    const { setup, daemon: d, api } = await startHaproxyDaemon(cleanup, cluster, { runtime: false });
    const ext = setup.externalPorts.get('testing')!;
    assert.equal(await routedTo(ext), cluster.masters.get('testing')!.port, 'routing');
    const good = readFileSync(setup.outputPath, 'utf8');
    writeFileSync(setup.templatePath, readFileSync(setup.templatePath, 'utf8').replace('mode tcp', 'mode tcp\n bogus-keyword here'));
    d.child.kill('SIGHUP');
    const status = await waitFor(async () => {
      const s = (await (await fetch(`${api}/api/haproxy/status`)).json()) as { lastError: string | null };
      return s.lastError ? s : undefined;
    }, { timeoutMs: 15000, what: 'validation error visible in the API' });
    assert.match(String(status.lastError), /bogus-keyword|unknown keyword/i);
    assert.equal(readFileSync(setup.outputPath, 'utf8'), good, 'old file kept byte for byte');
    assert.equal((await fetch(`${api}/api/ping`)).status, 200);
    // Serving, but the output cannot apply: health says so, naming the output and HAProxy's words.
    const health = await fetch(`${api}/api/health`);
    const body = (await health.json()) as { status: string; reasons: string[] };
    assert.equal(health.status, 503, JSON.stringify(body));
    assert.equal(body.status, 'degraded');
    assert.ok(body.reasons.some((r) => r.startsWith('output haproxy: last apply failed') && /bogus-keyword|unknown keyword/i.test(r)), JSON.stringify(body.reasons));
    assert.equal(await routedTo(ext), cluster.masters.get('testing')!.port);
  });
});
