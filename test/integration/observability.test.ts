import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster, useCleanup, waitFor, within } from '../harness/index.js';
import { ANY_PORT, runBin, waitListening } from '../support/daemon-process.js';
import { FAST_WATCHER } from '../support/watch.js';

/** /metrics, /api/health, /api/ready, /api/events and /api/stream against real sentinels. */
describe('observability endpoints (real sentinels)', { timeout: 120000 }, () => {
  const cleanup = useCleanup();

  it('report sentinels, confirmed masters, failovers, readiness and the quorum (held when a majority of sentinels is gone), and stream changes live', async () => {
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3 });
    const dir = mkdtempSync(join(tmpdir(), 'rh-obs-'));
    const cfg = join(dir, 'config.json');
    writeFileSync(cfg, JSON.stringify({ Clusters: [{ Name: 'testing', ExternalPort: 6379 }, { Name: 'ghost', ExternalPort: 6380 }], Sentinels: [{ Host: '127.0.0.1', Port: cluster.sentinels[0]!.port }], Watcher: FAST_WATCHER, Syslog: { Enabled: false } }));
    const d = runBin(cleanup, 'redishappy', ['-config', cfg, '-bind', ANY_PORT]);
    const api = await waitListening(d);
    const master = cluster.masters.get('testing')!;
    const replica = cluster.replicas.get('testing')![0]!;

    const health = async () => {
      const r = await fetch(`${api}/api/health`);
      return { code: r.status, body: (await r.json()) as { status: string; reasons: string[] } };
    };
    // Healthy once the configured sentinel has answered a poll (the API may come up just before).
    assert.deepEqual(await waitFor(async () => {
      const h = await health();
      return h.code === 200 ? h : undefined;
    }, { timeoutMs: 10000, what: '/api/health 200 with the sentinels up' }), { code: 200, body: { status: 'ok', reasons: [] } });
    // "ghost" is configured but no sentinel monitors it: never confirmed, so not ready, with the reason.
    const notReady = await waitFor(async () => {
      const r = await fetch(`${api}/api/ready`);
      const body = (await r.json()) as { ready: boolean; reasons: string[] };
      return r.status === 503 && body.reasons.length === 1 ? body : undefined;
    }, { timeoutMs: 10000, what: 'ready to report only the ghost cluster' });
    assert.deepEqual(notReady.reasons, ['cluster ghost has no confirmed master']);

    // Live stream: one SSE client follows the failover.
    const controller = new AbortController();
    cleanup.add(() => controller.abort());
    const stream = await fetch(`${api}/api/stream`, { signal: controller.signal });
    assert.match(stream.headers.get('content-type') ?? '', /^text\/event-stream/);
    const reader = stream.body!.getReader();
    let buffered = '';
    const sawMaster = async (p: number) => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return false;
        buffered += new TextDecoder().decode(value);
        const events = buffered.split('\n\n');
        buffered = events.pop() ?? '';
        for (const e of events) {
          const data = e.split('\n').find((l) => l.startsWith('data: '));
          if (!data) continue;
          const state = JSON.parse(data.slice(6)) as { clusters: Array<{ name: string; master: { port: number } | null }> };
          if (state.clusters.find((c) => c.name === 'testing')?.master?.port === p) return true;
        }
      }
    };
    assert.ok(await within(sawMaster(master.port), 15000, 'the stream to show the master'));

    // The quorum on /metrics while the master is confirmed: 2 of the 3 sentinels (one configured,
    // two discovered) must agree, all three do, nothing is held; "ghost" is held (no master).
    const quorumSeries = (text: string, c: string) => {
      const value = (name: string) => {
        const m = new RegExp(`^redishappy_cluster_${name}\\{cluster="${c}"\\} (\\S+)$`, 'm').exec(text);
        return m ? Number(m[1]) : undefined;
      };
      return { held: value('held'), quorum: value('quorum'), known: value('sentinels_known'), agreeing: value('sentinels_agreeing') };
    };
    const scrape = async () => (await fetch(`${api}/metrics`)).text();
    const confirmedSeries = await waitFor(async () => {
      const q = quorumSeries(await scrape(), 'testing');
      return q.agreeing === 3 ? q : undefined;
    }, { timeoutMs: 15000, what: 'three sentinels agreeing on /metrics' });
    assert.deepEqual(confirmedSeries, { held: 0, quorum: 2, known: 3, agreeing: 3 });
    assert.equal(quorumSeries(await scrape(), 'ghost').held, 1, 'the unconfirmed cluster is held');

    await master.kill('SIGKILL');
    assert.ok(await within(sawMaster(replica.port), 30000, 'the stream to show the new master'), 'stream shows the new master');
    controller.abort();

    const events = (await (await fetch(`${api}/api/events`)).json()) as { events: Array<Record<string, unknown>> };
    const failover = events.events.find((e) => e.type === 'failover' && e.from !== null);
    assert.ok(failover, JSON.stringify(events.events.slice(0, 5)));
    assert.deepEqual(failover.to, { ip: '127.0.0.1', port: replica.port });
    assert.equal(typeof failover.sinceAnnouncementMs, 'number');
    assert.ok(events.events.some((e) => e.type === 'announcement'));

    const metrics = await scrape();
    assert.match(metrics, /^redishappy_sentinels\{state="alive"\} 3$/m);
    assert.match(metrics, new RegExp(`^redishappy_cluster_master_info\\{cluster="testing",ip="127.0.0.1",port="${replica.port}",config_epoch="\\d+"\\} 1$`, 'm'));
    assert.match(metrics, /^redishappy_cluster_confirmed\{cluster="ghost"\} 0$/m);
    assert.match(metrics, /^redishappy_failovers_total\{cluster="testing"\} 1$/m);
    assert.match(metrics, /^redishappy_process_resident_memory_bytes \d+/m);

    const page = await fetch(`${api}/`);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(await page.text(), /<title>redishappy status<\/title>/);

    // A majority of the sentinels stops (the configured one stays), then the confirmed master dies:
    // the one sentinel left is no quorum, so the change is held and the metric says so.
    assert.deepEqual(await waitFor(async () => {
      const q = quorumSeries(await scrape(), 'testing');
      return q.agreeing === 3 ? q : undefined;
    }, { timeoutMs: 15000, what: 'the three sentinels to agree on the new master' }), { held: 0, quorum: 2, known: 3, agreeing: 3 });
    const [, s1, s2] = cluster.sentinels;
    await Promise.all([s1!.kill('SIGKILL'), s2!.kill('SIGKILL')]);
    assert.ok(!s1!.running && !s2!.running, 'two of the three sentinels really stopped');
    // What the "below quorum" alert reads: only one sentinel left to agree, of the 2 needed.
    await waitFor(async () => quorumSeries(await scrape(), 'testing').agreeing === 1, { timeoutMs: 30000, what: 'redishappy_cluster_sentinels_agreeing 1 for testing' });
    await replica.kill('SIGKILL');
    assert.ok(!replica.running, 'the confirmed master really died');
    const heldSeries = await waitFor(async () => {
      const q = quorumSeries(await scrape(), 'testing');
      return q.held === 1 ? q : undefined;
    }, { timeoutMs: 30000, what: 'redishappy_cluster_held 1 for testing' });
    assert.equal(heldSeries.quorum, 2);
    assert.equal(heldSeries.known, 3, 'stopped sentinels are still counted as known');
    assert.ok(heldSeries.agreeing !== undefined && heldSeries.agreeing < 2, `agreeing ${heldSeries.agreeing} is below the quorum`);
    assert.match(await scrape(), new RegExp(`^redishappy_cluster_master_info\\{cluster="testing",ip="127.0.0.1",port="${replica.port}",`, 'm'), 'the last confirmed master is kept');

    // With the last sentinel gone too the daemon cannot see failovers any more: health says so.
    const s0 = cluster.sentinels[0]!;
    await s0.kill('SIGKILL');
    assert.ok(cluster.sentinels.every((s) => !s.running), 'every sentinel really stopped');
    const degraded = await waitFor(async () => {
      const h = await health();
      return h.code === 503 ? h : undefined;
    }, { timeoutMs: 30000, what: '/api/health 503 once no sentinel is alive' });
    assert.equal(degraded.body.status, 'degraded');
    assert.equal(degraded.body.reasons.length, 1, JSON.stringify(degraded.body.reasons));
    assert.match(degraded.body.reasons[0]!, /^no sentinel is alive \(/);
    assert.match(degraded.body.reasons[0]!, new RegExp(`127\\.0\\.0\\.1:${s0.port} `), 'the reason names the configured sentinel');
  });
});
