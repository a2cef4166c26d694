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

  it('report sentinels, confirmed masters, failovers and readiness, and stream changes live', async () => {
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3 });
    const dir = mkdtempSync(join(tmpdir(), 'rh-obs-'));
    const cfg = join(dir, 'config.json');
    writeFileSync(cfg, JSON.stringify({ Clusters: [{ Name: 'testing', ExternalPort: 6379 }, { Name: 'ghost', ExternalPort: 6380 }], Sentinels: [{ Host: '127.0.0.1', Port: cluster.sentinels[0]!.port }], Watcher: FAST_WATCHER, Syslog: { Enabled: false } }));
    const d = runBin(cleanup, 'redishappy', ['-config', cfg, '-bind', ANY_PORT]);
    const api = await waitListening(d);
    const master = cluster.masters.get('testing')!;
    const replica = cluster.replicas.get('testing')![0]!;

    assert.deepEqual(await (await fetch(`${api}/api/health`)).json(), { status: 'ok' });
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

    await master.kill('SIGKILL');
    assert.ok(await within(sawMaster(replica.port), 30000, 'the stream to show the new master'), 'stream shows the new master');
    controller.abort();

    const events = (await (await fetch(`${api}/api/events`)).json()) as { events: Array<Record<string, unknown>> };
    const failover = events.events.find((e) => e.type === 'failover' && e.from !== null);
    assert.ok(failover, JSON.stringify(events.events.slice(0, 5)));
    assert.deepEqual(failover.to, { ip: '127.0.0.1', port: replica.port });
    assert.equal(typeof failover.sinceAnnouncementMs, 'number');
    assert.ok(events.events.some((e) => e.type === 'announcement'));

    const metrics = await (await fetch(`${api}/metrics`)).text();
    assert.match(metrics, /^redishappy_sentinels\{state="alive"\} 3$/m);
    assert.match(metrics, new RegExp(`^redishappy_cluster_master_info\\{cluster="testing",ip="127.0.0.1",port="${replica.port}",config_epoch="\\d+"\\} 1$`, 'm'));
    assert.match(metrics, /^redishappy_cluster_confirmed\{cluster="ghost"\} 0$/m);
    assert.match(metrics, /^redishappy_failovers_total\{cluster="testing"\} 1$/m);
    assert.match(metrics, /^redishappy_process_resident_memory_bytes \d+/m);

    const page = await fetch(`${api}/`);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(await page.text(), /<title>redishappy status<\/title>/);
  });
});
