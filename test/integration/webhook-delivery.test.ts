import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { createWebhookOutput, webhookSectionSchema } from '../../src/outputs/hooks/index.js';
import type { Output } from '../../src/outputs/types.js';
import type { MasterAddress, MasterChange, TopologySnapshot } from '../../src/topology/types.js';
import { Cleanup, testCleanup, freePort, retryOnPortClash, waitFor } from '../harness/index.js';
import { startWebhookReceiver, verifySignature } from '../support/webhook-receiver.js';

/** The Webhook output against real HTTP servers on loopback. Fast retry timings; production uses 1 s → 30 s. */

const A = { ip: '10.0.0.1', port: 6379 };
const B = { ip: '10.0.0.2', port: 6379 };
const C = { ip: '10.0.0.3', port: 6379 };

function snapshot(version: number, masters: Record<string, MasterAddress | null>): TopologySnapshot {
  return {
    version,
    clusters: Object.keys(masters)
      .sort()
      .map((name, i) => ({ name, externalPort: 16379 + i, master: masters[name] ?? null, configEpoch: version, confirmedAt: '2026-01-01T00:00:00.000Z', agreeingSentinels: ['127.0.0.1:26379'] })),
  };
}

function change(cluster: string, previous: MasterAddress | null, current: MasterAddress, epoch = 2): MasterChange {
  return { cluster, previous, current, configEpoch: epoch, confirmedAt: new Date().toISOString(), announcedAt: Date.now() - 5 };
}

function capturingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
  return { logger, lines };
}

function details(output: Output) {
  return output.status().details as { deliveries: number; deliveryFailures: number; dropped: number; queued: number; hooks: Array<{ hook: string; deliveries: number; failures: number; dropped: number; lastDeliveryAt: string | null; lastError: string | null }> };
}

/**
 * A receiver that holds every POST for cluster "testing" unanswered until release(), answers the
 * others at once, and logs "received <cluster>:<ip>" / "answered <cluster>:<ip>" in the order they happen.
 */
async function gatedReceiver(cleanup: Cleanup) {
  const log: string[] = [];
  let release = () => {};
  const gate = new Promise<void>((r) => (release = r));
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const e = JSON.parse(body) as { cluster: string; current: MasterAddress };
      const tag = `${e.cluster}:${e.current.ip}`;
      log.push(`received ${tag}`);
      const answer = () => {
        log.push(`answered ${tag}`);
        res.writeHead(200).end('ok');
      };
      if (e.cluster === 'testing') void gate.then(answer);
      else answer();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.add(() => new Promise<void>((r) => { release(); server.closeAllConnections(); server.close(() => r()); }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, log, release: () => release() };
}

describe('Webhook output (real HTTP receivers on loopback)', { timeout: 60000 }, () => {
  it('sends one signed JSON POST per change, with the documented headers', async (t) => {
    const cleanup = testCleanup(t);
    const rx = await startWebhookReceiver(cleanup);
    const { logger } = capturingLogger();
    const output = createWebhookOutput(webhookSectionSchema.parse([{ Url: `${rx.url}?team=ops`, Secret: 'hush', Headers: { Authorization: 'Bearer t0k', 'X-Team': 'ops' } }]), { logger });
    cleanup.add(() => output.close());

    await output.apply(snapshot(1, { testing: A }), [change('testing', null, A, 1)]);
    const snap = snapshot(2, { testing: B });
    await output.apply(snap, [change('testing', A, B)]);
    await waitFor(() => details(output).deliveries === 1, { timeoutMs: 5000, what: 'delivered' });
    assert.equal(rx.received.length, 1, 'one POST per change, none for the first confirmation after start');
    // Exactly once: the next change for the cluster goes through the same serial queue, so a second
    // POST of the first event (a retry after success, a duplicate) would arrive before it.
    await output.apply(snapshot(3, { testing: C }), [change('testing', B, C, 3)]);
    await waitFor(() => details(output).deliveries === 2, { timeoutMs: 5000, what: 'the next change delivered' });
    assert.deepEqual(rx.events().map((e) => (e.current as MasterAddress).ip), ['10.0.0.2', '10.0.0.3'], 'each change POSTed once, in order');

    const post = rx.received[0]!;
    assert.equal(post.method, 'POST');
    assert.equal(post.url, '/hook?team=ops');
    assert.equal(post.headers['content-type'], 'application/json');
    assert.equal(post.headers.authorization, 'Bearer t0k');
    assert.equal(post.headers['x-team'], 'ops');
    assert.equal(post.headers['x-redishappy-event'], 'master-changed');
    assert.ok(verifySignature('hush', post.body, post.headers['x-redishappy-signature']), 'signature verifies');
    assert.ok(!Number.isNaN(Date.parse(String(post.headers['x-redishappy-timestamp']))));
    const event = JSON.parse(post.body) as Record<string, unknown>;
    assert.equal(post.headers['x-redishappy-delivery'], event.deliveryId);
    assert.equal(event.event, 'master-changed');
    assert.equal(event.cluster, 'testing');
    assert.deepEqual(event.previous, A);
    assert.deepEqual(event.current, B);
    assert.equal(event.configEpoch, 2);
    assert.deepEqual(event.topology, snap);
    assert.equal(details(output).hooks[0]!.hook, `${new URL(rx.url).origin}/hook`, 'the status names the hook by origin and path only (no query)');
  });

  it('sends no signature header without a Secret', async (t) => {
    const cleanup = testCleanup(t);
    const rx = await startWebhookReceiver(cleanup);
    const output = createWebhookOutput(webhookSectionSchema.parse([{ Url: rx.url }]), { logger: capturingLogger().logger });
    cleanup.add(() => output.close());
    await output.apply(snapshot(2, { testing: B }), [change('testing', A, B)]);
    await waitFor(() => rx.received.length === 1, { timeoutMs: 5000, what: 'delivered' });
    assert.equal(rx.received[0]!.headers['x-redishappy-signature'], undefined);
  });

  it('retries 5xx, 408, 429, timeouts and refused connections with the same delivery id and signature', async (t) => {
    const cleanup = testCleanup(t);
    // The refused port must be free now and bound later by the test: another process may take it
    // in between. Then everything starts again on a new port (EADDRINUSE from the late listen).
    await retryOnPortClash(cleanup, 'webhook receivers and a refused port', async (scope) => {
      const statuses = [500, 503, 408, 429, 200];
      const rx = await startWebhookReceiver(scope, (n) => ({ status: statuses[n] ?? 200, body: `answer ${n}` }));
      const slowFirst = await startWebhookReceiver(scope, (n) => ({ status: 200, delayMs: n === 0 ? 2000 : 0 }));
      const refusedPort = await freePort();
      const { logger, lines } = capturingLogger();
      const output = createWebhookOutput(
        webhookSectionSchema.parse([
          { Url: rx.url, Secret: 'k1' },
          { Url: slowFirst.url, TimeoutMs: 300 },
          { Url: `http://127.0.0.1:${refusedPort}/late`, MaxAttempts: 50 },
        ]),
        { logger, retryMinMs: 50, retryMaxMs: 200 },
      );
      scope.add(() => output.close());
      await output.apply(snapshot(2, { testing: B }), [change('testing', A, B)]);

      await waitFor(() => rx.received.length === 5 && details(output).hooks[0]!.deliveries === 1, { timeoutMs: 10000, what: 'delivered on the fifth attempt' });
      const ids = new Set(rx.received.map((r) => r.headers['x-redishappy-delivery']));
      assert.equal(ids.size, 1, 'retries carry the same delivery id');
      assert.ok(rx.received.every((r) => verifySignature('k1', r.body, r.headers['x-redishappy-signature'])));
      assert.equal(details(output).hooks[0]!.failures, 4);

      await waitFor(() => details(output).hooks[1]!.deliveries === 1, { timeoutMs: 10000, what: 'slow receiver delivered after a timeout' });
      assert.match(lines.find((l) => l.msg === 'webhook hook failed; will retry' && String(l.hook).endsWith(`${slowFirst.port}/hook`))?.err as string, /no answer within 300ms/);

      assert.ok(details(output).hooks[2]!.failures >= 1);
      assert.match(details(output).hooks[2]!.lastError ?? '', /fetch failed|ECONNREFUSED/);
      // The receiver comes up later on that port: the event still arrives.
      const late: string[] = [];
      const server = http.createServer((req, res) => {
        let body = '';
        req.on('data', (d: Buffer) => (body += d.toString()));
        req.on('end', () => {
          late.push(body);
          res.writeHead(204).end();
        });
      });
      scope.add(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(refusedPort, '127.0.0.1', resolve);
      });
      await waitFor(() => late.length === 1 && details(output).hooks[2]!.deliveries === 1, { timeoutMs: 10000, what: 'delivered once the receiver listens' });
      assert.equal(output.status().lastError, null, 'no error left once every hook delivered');
    });
  });

  it('does not retry other 4xx answers (a permanent refusal), and counts the dropped event', async (t) => {
    const cleanup = testCleanup(t);
    const rx = await startWebhookReceiver(cleanup, () => ({ status: 401, body: 'bad token' }));
    const { logger, lines } = capturingLogger();
    const output = createWebhookOutput(webhookSectionSchema.parse([{ Url: rx.url }]), { logger, retryMinMs: 50, retryMaxMs: 100 });
    cleanup.add(() => output.close());
    await output.apply(snapshot(2, { testing: B }), [change('testing', A, B)]);
    await waitFor(() => details(output).dropped === 1, { timeoutMs: 5000, what: 'dropped' });
    // Dropped is final: the event has left its queue, so whatever was sent for it is on record now.
    assert.equal(details(output).queued, 0);
    assert.equal(details(output).deliveryFailures, 1);
    assert.equal(rx.received.length, 1, 'no retry');
    assert.match(output.status().lastError ?? '', /: HTTP 401: bad token$/);
    assert.ok(lines.some((l) => l.msg === 'webhook hook failed; giving up on this event'));
  });

  it('gives up after MaxAttempts', async (t) => {
    const cleanup = testCleanup(t);
    const rx = await startWebhookReceiver(cleanup, () => ({ status: 502 }));
    const output = createWebhookOutput(webhookSectionSchema.parse([{ Url: rx.url, MaxAttempts: 3 }]), { logger: capturingLogger().logger, retryMinMs: 20, retryMaxMs: 50 });
    cleanup.add(() => output.close());
    await output.apply(snapshot(2, { testing: B }), [change('testing', A, B)]);
    await waitFor(() => details(output).dropped === 1, { timeoutMs: 5000, what: 'dropped' });
    // Dropped is final: the event has left its queue, so every attempt made for it is on record now.
    assert.equal(details(output).queued, 0);
    assert.equal(details(output).deliveryFailures, 3);
    assert.equal(rx.received.length, 3);
  });

  it('apply returns without waiting for the receiver; events of one cluster arrive in order, other clusters go ahead', async (t) => {
    const cleanup = testCleanup(t);
    // Every POST for "testing" is held unanswered until release(): an apply that waited for the
    // receiver would never return, and "other" could only be delivered if it does not wait behind "testing".
    const rx = await gatedReceiver(cleanup);
    const output = createWebhookOutput(webhookSectionSchema.parse([{ Url: rx.url, TimeoutMs: 30000 }]), { logger: capturingLogger().logger });
    cleanup.add(() => output.close());
    let applied = false;
    void (async () => {
      await output.apply(snapshot(2, { other: A, testing: B }), [change('testing', A, B)]);
      await output.apply(snapshot(3, { other: B, testing: C }), [change('testing', B, C, 3), change('other', A, B)]);
      applied = true;
    })();
    await waitFor(() => applied, { timeoutMs: 10000, what: 'both applies returned while the receiver holds the first POST' });
    await waitFor(() => details(output).deliveries === 1 && rx.log.includes('received testing:10.0.0.2'), { timeoutMs: 10000, what: '"other" delivered while "testing" is held' });
    // The two first POSTs travel on separate connections: either may arrive first.
    assert.deepEqual([...rx.log].sort(), ['answered other:10.0.0.2', 'received other:10.0.0.2', 'received testing:10.0.0.2'], 'the second "testing" event waits for the first');
    rx.release();
    await waitFor(() => details(output).deliveries === 3, { timeoutMs: 10000, what: 'three deliveries' });
    assert.deepEqual(rx.log.slice(3), ['answered testing:10.0.0.2', 'received testing:10.0.0.3', 'answered testing:10.0.0.3'], 'testing stays in order, one at a time');
  });

  it('close() aborts an in-flight request promptly', async (t) => {
    const cleanup = testCleanup(t);
    // The receiver would answer after 10 minutes and the timeout is as far: only an abort lets close() return.
    const rx = await startWebhookReceiver(cleanup, () => ({ status: 200, delayMs: 600000 }));
    const output = createWebhookOutput(webhookSectionSchema.parse([{ Url: rx.url, TimeoutMs: 600000 }]), { logger: capturingLogger().logger });
    cleanup.add(() => output.close());
    await output.apply(snapshot(2, { testing: B }), [change('testing', A, B)]);
    await waitFor(() => rx.received.length === 1, { timeoutMs: 5000, what: 'request in flight' });
    await output.close();
    assert.equal(details(output).deliveries, 0);
    assert.equal(details(output).deliveryFailures, 0, 'an abort on close is not a delivery failure');
  });
});
