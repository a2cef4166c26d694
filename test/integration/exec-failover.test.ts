import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { routedTo, startCluster, useCleanup, waitFor, within, pidAlive } from '../harness/index.js';
import { startHaproxyDaemon } from '../support/haproxy-setup.js';
import { startWebhookReceiver, verifySignature } from '../support/webhook-receiver.js';

/**
 * The end-to-end case with everything real: sentinels, redis, HAProxy, and the
 * redishappy-haproxy executable with Exec and Webhook sections. A slow command and a slow webhook
 * must not delay HAProxy switching; each hook fires exactly once for the failover (not once per
 * sentinel, not for the first confirmation at start); a daemon shutdown kills a running command.
 */

interface Line {
  phase: 'start' | 'end';
  who: string;
  pid: number;
  at: number;
  input?: Record<string, unknown>;
  env?: Record<string, string>;
}

interface OutputView {
  name: string;
  appliedVersion: number | null;
  lastError: string | null;
  details: { deliveries: number; deliveryFailures: number; dropped: number; queued: number };
}

describe('Exec and Webhook in the daemon, with HAProxy (real sentinels, redis, haproxy)', { timeout: 180000 }, () => {
  const cleanup = useCleanup();

  it('a slow command and a slow webhook do not delay HAProxy; each hook fires exactly once with the right event', async () => {
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3 });
    const master = cluster.masters.get('testing')!;
    const replica = cluster.replicas.get('testing')![0]!;

    const signed = await startWebhookReceiver(cleanup);
    // Never answered within the test (HAProxy can only switch if it does not wait for it).
    const slowPost = await startWebhookReceiver(cleanup, () => ({ status: 200, delayMs: 600000 }));
    const dir = mkdtempSync(join(tmpdir(), 'rh-exec-failover-'));
    const log = join(dir, 'hook-runs.jsonl');
    const script = join(dir, 'hook.mjs');
    writeFileSync(
      script,
      `import { readFileSync, appendFileSync } from 'node:fs';
const who = process.argv[2];
const input = JSON.parse(readFileSync(0, 'utf8'));
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => /^REDISHAPPY_(EVENT|CLUSTER|OLD_|NEW_|CONFIG_EPOCH|CONFIRMED_AT|DELIVERY_ID)/.test(k)));
const line = (o) => appendFileSync(${JSON.stringify(log)}, JSON.stringify({ who, pid: process.pid, at: Date.now(), ...o }) + '\\n');
line({ phase: 'start', input, env });
if (who === 'slow') await new Promise((r) => setTimeout(r, 600000)); // runs until killed at shutdown
line({ phase: 'end' });
`,
    );
    const { setup, daemon: d, api } = await startHaproxyDaemon(cleanup, cluster, {
      runtime: true,
      extra: {
        Exec: [
          { Command: process.execPath, Args: [script, 'slow'], TimeoutMs: 60000 },
          { Command: process.execPath, Args: [script, 'fast'] },
        ],
        Webhook: [
          { Url: slowPost.url, TimeoutMs: 60000 },
          { Url: signed.url, Secret: 'shared-hmac-key', Headers: { Authorization: 'Bearer hook-token' } },
        ],
      },
    });

    const ext = setup.externalPorts.get('testing')!;
    assert.equal(await routedTo(ext), master.port, 'HAProxy routes to the master');
    /** Every output has applied the current topology (what /api/ready checks). */
    const ready = async () => (await fetch(`${api}/api/ready`)).status === 200;
    const outputs = async () => new Map(((await (await fetch(`${api}/api/outputs`)).json()) as { outputs: OutputView[] }).outputs.map((o) => [o.name, o]));
    const hooks = async (name: string) => {
      const o = (await outputs()).get(name)!;
      const { deliveries, deliveryFailures, dropped, queued } = o.details;
      return { deliveries, deliveryFailures, dropped, queued };
    };
    // Settled: the Exec and Webhook outputs have applied the first confirmation. A hook fired for it
    // would be queued or delivered now (the slow ones never finish, so they would stay queued).
    await waitFor(ready, { timeoutMs: 15000, what: 'every output applied the first confirmation' });
    const none = { deliveries: 0, deliveryFailures: 0, dropped: 0, queued: 0 };
    assert.deepEqual(await hooks('exec'), none, 'no command for the first confirmation after start');
    assert.deepEqual(await hooks('webhook'), none, 'no POST for the first confirmation after start');
    const lines = (): Line[] => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line) : []);
    assert.equal(lines().length, 0);
    assert.equal(signed.received.length + slowPost.received.length, 0);

    const configuration = JSON.stringify(await (await fetch(`${api}/api/configuration`)).json());
    assert.ok(!configuration.includes('shared-hmac-key') && !configuration.includes('hook-token'), configuration);

    await master.kill('SIGKILL');
    await waitFor(async () => (await routedTo(ext).catch(() => 0)) === replica.port, { timeoutMs: 30000, what: 'HAProxy routes to the promoted replica' });
    const routedAt = Date.now();

    // HAProxy switched although the slow command and the slow webhook never finish on their own: an
    // output waiting for another would never have switched (the wait above would time out).
    const slowStart = await waitFor(() => lines().find((l) => l.who === 'slow' && l.phase === 'start'), { timeoutMs: 10000, what: 'slow command started' });
    await waitFor(() => slowPost.received.length === 1, { timeoutMs: 10000, what: 'slow webhook request in flight' });
    // The Exec and Webhook outputs themselves applied the failover while their slow hooks still run:
    // an output whose apply waited for its hooks would never be ready here.
    await waitFor(ready, { timeoutMs: 15000, what: 'every output applied the failover while the slow hooks run' });
    assert.ok(!lines().some((l) => l.who === 'slow' && l.phase === 'end'), 'the slow command is still running');
    const topo = (await (await fetch(`${api}/api/topology`)).json()) as Array<{ name: string; port: number; confirmedAt: string; agreeingSentinels: string[] }>;
    const confirmedAt = Date.parse(topo[0]!.confirmedAt);
    assert.equal(topo[0]!.port, replica.port);
    assert.ok(confirmedAt <= routedAt, 'HAProxy routed to the replica only once the daemon had confirmed it');

    // The fast command: once, with the event on stdin and in the environment.
    const fast = await waitFor(() => lines().find((l) => l.who === 'fast' && l.phase === 'start'), { timeoutMs: 10000, what: 'fast command ran' });
    const input = fast.input!;
    assert.equal(input.event, 'master-changed');
    assert.equal(input.cluster, 'testing');
    assert.deepEqual(input.previous, { ip: '127.0.0.1', port: master.port });
    assert.deepEqual(input.current, { ip: '127.0.0.1', port: replica.port });
    assert.equal(input.confirmedAt, topo[0]!.confirmedAt);
    assert.equal(typeof input.configEpoch, 'number');
    const topology = input.topology as { version: number; clusters: Array<{ name: string; master: { ip: string; port: number } }> };
    assert.deepEqual(topology.clusters.map((c) => [c.name, c.master]), [['testing', { ip: '127.0.0.1', port: replica.port }]]);
    assert.deepEqual(fast.env, {
      REDISHAPPY_EVENT: 'master-changed',
      REDISHAPPY_DELIVERY_ID: input.deliveryId,
      REDISHAPPY_CLUSTER: 'testing',
      REDISHAPPY_OLD_MASTER_IP: '127.0.0.1',
      REDISHAPPY_OLD_MASTER_PORT: String(master.port),
      REDISHAPPY_NEW_MASTER_IP: '127.0.0.1',
      REDISHAPPY_NEW_MASTER_PORT: String(replica.port),
      REDISHAPPY_CONFIG_EPOCH: String(input.configEpoch),
      REDISHAPPY_CONFIRMED_AT: topo[0]!.confirmedAt,
    });

    // The signed webhook: one POST, verifiable, same facts.
    await waitFor(() => signed.received.length === 1, { timeoutMs: 10000, what: 'signed POST' });
    const post = signed.received[0]!;
    assert.ok(verifySignature('shared-hmac-key', post.body, post.headers['x-redishappy-signature']), 'signature verifies');
    assert.equal(post.headers.authorization, 'Bearer hook-token');
    const body = JSON.parse(post.body) as Record<string, unknown>;
    assert.deepEqual([body.cluster, body.previous, body.current, body.confirmedAt], ['testing', input.previous, input.current, input.confirmedAt]);

    // Exactly once: let every sentinel catch up (each one's +switch-master) and look again.
    await waitFor(async () => {
      const t = (await (await fetch(`${api}/api/topology`)).json()) as Array<{ agreeingSentinels: string[] }>;
      return t[0]!.agreeingSentinels.length === 3;
    }, { timeoutMs: 20000, what: 'all sentinels agree' });
    // Settled: every output applied the latest topology, and the fast hooks are done. A duplicate
    // change would have queued a second event behind each slow hook's first one, which never finishes.
    await waitFor(async () => (await ready()) && (await hooks('exec')).deliveries === 1 && (await hooks('webhook')).deliveries === 1, { timeoutMs: 15000, what: 'outputs settled on the failover' });
    assert.deepEqual(await hooks('exec'), { deliveries: 1, deliveryFailures: 0, dropped: 0, queued: 1 }, 'the fast command delivered once; only the slow one\'s event still in hand');
    assert.deepEqual(await hooks('webhook'), { deliveries: 1, deliveryFailures: 0, dropped: 0, queued: 1 }, 'the signed POST delivered once; only the slow one\'s event still in hand');
    assert.deepEqual(lines().filter((l) => l.phase === 'start').map((l) => l.who).sort(), ['fast', 'slow'], 'each command ran exactly once');
    assert.equal(signed.received.length, 1, 'one POST per change');
    assert.equal(slowPost.received.length, 1, 'the slow webhook is not re-sent while it is being answered');

    // Status and metrics.
    const byName = await outputs();
    assert.deepEqual([...byName.keys()].sort(), ['exec', 'haproxy', 'webhook']);
    assert.equal(byName.get('exec')!.details.deliveries, 1, 'fast command delivered; slow one still running');
    assert.equal(byName.get('webhook')!.details.deliveries, 1);
    assert.equal(byName.get('exec')!.lastError, null);
    const metrics = await (await fetch(`${api}/metrics`)).text();
    assert.match(metrics, /redishappy_output_events\{output="exec",kind="deliveries"\} 1/);
    assert.match(metrics, /redishappy_output_events\{output="webhook",kind="deliveries"\} 1/);
    assert.match(metrics, /redishappy_output_events\{output="webhook",kind="delivery_failures"\} 0/);

    // Shutdown does not wait 20 s for the slow hooks: the running command is killed.
    // Had it waited, the slow command would have logged its end before the daemon exited.
    d.child.kill('SIGTERM');
    assert.equal(await within(d.exited, 60000, 'the daemon to exit on SIGTERM'), 0);
    await waitFor(() => !pidAlive(slowStart.pid), { timeoutMs: 3000, what: 'slow command killed at shutdown' });
    assert.ok(!lines().some((l) => l.who === 'slow' && l.phase === 'end'));
  });
});
