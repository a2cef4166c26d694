import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createExecOutput, createWebhookOutput, execSectionSchema, webhookSectionSchema } from '../../src/outputs/hooks/index.js';
import { OutputRunner } from '../../src/outputs/runner.js';
import type { Output, OutputStatus } from '../../src/outputs/types.js';
import { startCluster, useCleanup, waitFor } from '../harness/index.js';
import { startWatcher, testConfig } from '../support/watch.js';

const log = pino({ level: 'silent' });

interface Received {
  body: string;
  headers: http.IncomingHttpHeaders;
  at: number;
}

/** A webhook receiver on loopback; answers with `status()` after `delayMs()`. */
async function receiver(cleanup: { add(fn: () => unknown): void }, status: () => number, delayMs: () => number, hold?: Promise<void>) {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      received.push({ body, headers: req.headers, at: Date.now() });
      void (hold ?? Promise.resolve()).then(() => setTimeout(() => res.writeHead(status()).end('ok'), delayMs()));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.add(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received };
}

class Recording implements Output {
  readonly name = 'fast';
  applied: number[] = [];
  async apply(): Promise<void> {
    this.applied.push(Date.now());
  }
  status(): OutputStatus {
    return { name: this.name, lastAppliedAt: null, appliedVersion: null, lastError: null, lastErrorAt: null };
  }
  async close(): Promise<void> {}
}

describe('Exec and Webhook outputs (real sentinels)', { timeout: 120000 }, () => {
  const cleanup = useCleanup();

  it('a failover runs the command exactly once and sends one signed POST; failures are retried; a slow hook delays nothing else', async () => {
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3 });
    const dir = mkdtempSync(join(tmpdir(), 'rh-hooks-'));
    const out = join(dir, 'runs.jsonl');
    const failOnce = join(dir, 'fail-once');
    writeFileSync(failOnce, '');
    // Records stdin + env; the second command fails on its first run (its marker file exists), then succeeds.
    const script = join(dir, 'hook.mjs');
    writeFileSync(script, `import { readFileSync, appendFileSync, existsSync, rmSync } from 'node:fs';
const input = readFileSync(0, 'utf8');
if (process.argv[2] === 'flaky' && existsSync(${JSON.stringify(failOnce)})) { rmSync(${JSON.stringify(failOnce)}); console.error('first run fails'); process.exit(3); }
appendFileSync(${JSON.stringify(out)}, JSON.stringify({ who: process.argv[2], input: JSON.parse(input), env: { c: process.env.REDISHAPPY_CLUSTER, old: process.env.REDISHAPPY_OLD_MASTER_PORT, neu: process.env.REDISHAPPY_NEW_MASTER_PORT } }) + '\\n');
`);
    const good = await receiver(cleanup, () => 200, () => 0);
    let flakyCalls = 0;
    const flaky = await receiver(cleanup, () => (++flakyCalls === 1 ? 503 : 200), () => 0);
    // The slow webhook is held unanswered until the test releases it.
    let releaseSlow = () => {};
    const slowHold = new Promise<void>((r) => (releaseSlow = r));
    cleanup.add(() => releaseSlow());
    const slow = await receiver(cleanup, () => 200, () => 0, slowHold);

    const exec = createExecOutput(execSectionSchema.parse([{ Command: process.execPath, Args: [script, 'steady'] }, { Command: process.execPath, Args: [script, 'flaky'] }]), { logger: log, retryMinMs: 100, retryMaxMs: 200 });
    const hooks = createWebhookOutput(webhookSectionSchema.parse([{ Url: good.url, Secret: 'hush' }, { Url: flaky.url }, { Url: slow.url, TimeoutMs: 10000 }]), { logger: log, retryMinMs: 100, retryMaxMs: 200 });
    const fast = new Recording();
    const runners = [exec, hooks, fast].map((s) => new OutputRunner(s, log));
    for (const r of runners) cleanup.add(() => r.close());
    const [execRunner, hooksRunner] = runners as [OutputRunner, OutputRunner, OutputRunner];
    const counts = (r: OutputRunner) => {
      const d = r.status().details as { deliveries: number; deliveryFailures: number; dropped: number; queued: number };
      return { deliveries: d.deliveries, failures: d.deliveryFailures, dropped: d.dropped, queued: d.queued };
    };

    const w = startWatcher(testConfig([{ name: 'testing' }], [{ host: '127.0.0.1', port: cluster.sentinels[0]!.port }]));
    cleanup.add(() => w.watcher.stop());
    w.topology.on('change', (c, snap) => runners.forEach((r) => r.submit(snap, [c])));
    const master = cluster.masters.get('testing')!;
    const replica = cluster.replicas.get('testing')![0]!;
    await waitFor(() => w.master('testing')?.port === master.port, { timeoutMs: 10000, what: 'master confirmed' });
    // Settled: both hook outputs applied the first confirmation; a hook fired for it would be queued or delivered now.
    const version = () => w.topology.snapshot().version;
    await waitFor(() => runners.every((r) => r.status().appliedVersion === version()), { timeoutMs: 10000, what: 'outputs applied the first confirmation' });
    assert.deepEqual([counts(execRunner), counts(hooksRunner)], [{ deliveries: 0, failures: 0, dropped: 0, queued: 0 }, { deliveries: 0, failures: 0, dropped: 0, queued: 0 }], 'the first confirmation after start is not a failover: no hook');
    assert.equal(existsSync(out), false);

    await master.kill('SIGKILL');
    await waitFor(() => w.master('testing')?.port === replica.port, { timeoutMs: 30000, what: 'failover' });
    // The webhook output cannot finish this change before releaseSlow(): if the fast output waited
    // for it, this wait would time out.
    await waitFor(() => fast.applied.length >= 2, { timeoutMs: 15000, what: 'fast output applied while the slow webhook is held' });
    await waitFor(() => slow.received.length === 1, { timeoutMs: 10000, what: 'slow webhook request in flight' });
    // The Webhook output itself applied the failover (apply only queues), and its other hooks were
    // delivered, while the slow one is held: an apply or a hook that waited for it would stall here.
    await waitFor(() => hooksRunner.status().appliedVersion === version() && good.received.length === 1 && counts(hooksRunner).deliveries === 2, { timeoutMs: 15000, what: 'webhook output applied and its other hooks delivered while the slow one is held' });

    const runs = await waitFor(() => {
      const lines = existsSync(out) ? readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { who: string; input: Record<string, unknown>; env: Record<string, string> }) : [];
      return lines.length >= 2 ? lines : undefined;
    }, { timeoutMs: 10000, what: 'both commands ran' });
    // Settled: every sentinel agrees, every output applied the latest topology, and the commands are
    // done. A duplicate change would be queued or delivered by now, and behind the held slow hook it stays queued.
    await waitFor(() => w.topology.get('testing')!.agreeingSentinels.length === 3, { timeoutMs: 15000, what: 'all sentinels agree' });
    await waitFor(() => runners.every((r) => r.status().appliedVersion === version()) && counts(execRunner).deliveries === 2, { timeoutMs: 15000, what: 'outputs settled on the failover' });
    assert.deepEqual(counts(execRunner), { deliveries: 2, failures: 1, dropped: 0, queued: 0 }, 'each command delivered once (the flaky one after a retry)');
    assert.deepEqual(counts(hooksRunner), { deliveries: 2, failures: 1, dropped: 0, queued: 1 }, 'each webhook once (the flaky one after a retry); only the held one\'s event in hand');
    const final = readFileSync(out, 'utf8').trim().split('\n');
    assert.equal(final.length, 2, 'each command ran exactly once for the failover (the flaky one after a retry)');
    releaseSlow();
    for (const r of runs) {
      assert.equal(r.input.event, 'master-changed');
      assert.deepEqual(r.input.previous, { ip: '127.0.0.1', port: master.port });
      assert.deepEqual(r.input.current, { ip: '127.0.0.1', port: replica.port });
      assert.deepEqual(r.env, { c: 'testing', old: String(master.port), neu: String(replica.port) });
    }

    await waitFor(() => good.received.length === 1 && flaky.received.length === 2, { timeoutMs: 10000, what: 'webhooks delivered (flaky after a retry)' });
    const post = good.received[0]!;
    assert.equal(post.headers['x-redishappy-signature'], `sha256=${createHmac('sha256', 'hush').update(post.body).digest('hex')}`);
    assert.equal((JSON.parse(post.body) as { cluster: string }).cluster, 'testing');
    assert.equal(good.received.length, 1, 'one POST per change');
    await waitFor(() => counts(hooksRunner).deliveries === 3, { timeoutMs: 10000, what: 'the held webhook delivered once released' });
    assert.equal(slow.received.length, 1, 'the held webhook was not sent again');
  });
});
