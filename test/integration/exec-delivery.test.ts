import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createExecOutput, execSectionSchema } from '../../src/outputs/hooks/index.js';
import type { Output } from '../../src/outputs/types.js';
import type { MasterAddress, MasterChange, TopologySnapshot } from '../../src/topology/types.js';
import { testCleanup, waitFor, pidAlive } from '../harness/index.js';

/**
 * The Exec output against real child processes: a Node script that records its stdin and
 * environment, fails or hangs on request. Fast retry timings; production uses 1 s → 30 s.
 */

interface Run {
  tag: string;
  input: Record<string, unknown> & { deliveryId: string; cluster: string };
  env: Record<string, string>;
  argv: string[];
  startedAt: number;
  endedAt: number;
}

function workspace() {
  const dir = mkdtempSync(join(tmpdir(), 'rh-exec-'));
  const out = join(dir, 'runs.jsonl');
  const script = join(dir, 'hook.mjs');
  writeFileSync(
    script,
    `import { readFileSync, appendFileSync, existsSync, writeFileSync } from 'node:fs';
const [tag, optsJson, ...rest] = process.argv.slice(2);
const opts = JSON.parse(optsJson ?? '{}');
const startedAt = Date.now();
const input = JSON.parse(readFileSync(0, 'utf8'));
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('REDISHAPPY_')));
if (opts.failTimes) {
  const n = existsSync(opts.counter) ? Number(readFileSync(opts.counter, 'utf8')) : 0;
  writeFileSync(opts.counter, String(n + 1));
  if (n < opts.failTimes) { console.error('failing on purpose, run ' + (n + 1)); process.exit(3); }
}
const gate = (opts.gateByCluster ?? {})[input.cluster] ?? opts.gate;
if (gate) while (!existsSync(gate)) await new Promise((r) => setTimeout(r, 10));
const sleep = (opts.sleepByCluster ?? {})[input.cluster] ?? opts.sleepMs ?? 0;
if (sleep) await new Promise((r) => setTimeout(r, sleep));
console.log('hook ' + tag + ' handled ' + input.cluster);
appendFileSync(${JSON.stringify(out)}, JSON.stringify({ tag, input, env, argv: rest, startedAt, endedAt: Date.now() }) + '\\n');
`,
  );
  const runs = (): Run[] => (existsSync(out) ? readFileSync(out, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Run) : []);
  return { dir, script, runs };
}

function capturingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
  return { logger, lines };
}

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

/** Timers and child processes alive in this process: what an output could still have scheduled or running. */
function pendingWork(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'ProcessWrap').length;
}

function details(output: Output) {
  return output.status().details as { deliveries: number; deliveryFailures: number; dropped: number; queued: number; hooks: Array<{ deliveries: number; failures: number; dropped: number; lastDeliveryAt: string | null; lastError: string | null }> };
}


describe('Exec output close() (real processes)', { timeout: 60000 }, () => {
  it('close() kills a running command and stops retrying', async (t) => {
    const cleanup = testCleanup(t);
    const w = workspace();
    const { logger } = capturingLogger();
    const pids = join(w.dir, 'pids');
    const counter = join(w.dir, 'count');
    // This file's first test: no earlier test's timer or child can expire meanwhile and hide one
    // left by this output.
    const before = pendingWork();
    const output = createExecOutput(
      execSectionSchema.parse([
        { Command: `echo $$ >> ${pids}; exec sleep 600`, Shell: true, TimeoutMs: 600000 },
        { Command: process.execPath, Args: [w.script, 'failing', JSON.stringify({ failTimes: 100, counter })] },
      ]),
      { logger, retryMinMs: 300, retryMaxMs: 300 },
    );
    cleanup.add(() => output.close());
    await output.apply(snapshot(2, { testing: B }), [change('testing', A, B)]);
    const [pid] = await waitFor(() => (existsSync(pids) && existsSync(counter) ? readFileSync(pids, 'utf8').trim().split('\n').map(Number) : undefined), { timeoutMs: 5000, what: 'both started' });
    assert.ok(pidAlive(pid!));
    // A close that waited for the command (600 s) would outlast the test's timeout.
    await output.close();
    await waitFor(() => !pidAlive(pid!), { timeoutMs: 5000, what: 'running command killed on close' });
    const n = readFileSync(counter, 'utf8');
    // Settled: the output holds no timer (retry backoff, command timeout) and no child any more, so
    // nothing can run later. A retry left scheduled would keep this above the count taken before.
    await waitFor(() => pendingWork() <= before, { timeoutMs: 5000, what: 'no timer or child process left by the closed output' });
    assert.equal(readFileSync(counter, 'utf8'), n, 'no retry after close');
  });
});

describe('Exec output (real processes)', { timeout: 60000 }, () => {
  it('runs the command once per change with the event on stdin and in the environment, without waiting for it', async (t) => {
    const cleanup = testCleanup(t);
    const w = workspace();
    const { logger, lines } = capturingLogger();
    // The command waits for a gate that is opened only after apply() returned: an apply that
    // waited for the command would never return.
    const gate = join(w.dir, 'gate');
    const output = createExecOutput(execSectionSchema.parse([{ Command: process.execPath, Args: [w.script, 'rec', JSON.stringify({ gate }), 'extra arg; $(touch /tmp/no)'] }]), { logger, retryMinMs: 50, retryMaxMs: 200 });
    cleanup.add(() => output.close());

    // First confirmation after a start: previous is null, not a change of master.
    await output.apply(snapshot(1, { testing: A }), [change('testing', null, A, 1)]);
    const snap = snapshot(2, { testing: B });
    await output.apply(snap, [change('testing', A, B)]);
    assert.equal(details(output).queued, 1);
    assert.equal(w.runs().length, 0, 'apply returned before the command finished');
    writeFileSync(gate, '');

    const [run] = await waitFor(() => (w.runs().length === 1 ? w.runs() : undefined), { timeoutMs: 10000, what: 'the command ran' });
    assert.equal(run!.tag, 'rec');
    assert.deepEqual(run!.argv, ['extra arg; $(touch /tmp/no)'], 'arguments reach the program verbatim: no shell');
    const { deliveryId, confirmedAt, announcedAt, ...rest } = run!.input as Record<string, unknown>;
    assert.deepEqual(rest, { event: 'master-changed', cluster: 'testing', previous: A, current: B, configEpoch: 2, read: { externalReadPort: null, serving: [] }, topology: snap });
    assert.match(String(deliveryId), /^[0-9a-f-]{36}$/);
    assert.equal(typeof confirmedAt, 'string');
    assert.equal(typeof announcedAt, 'string');
    assert.deepEqual(
      Object.fromEntries(Object.entries(run!.env).filter(([k]) => k !== 'REDISHAPPY_LOG_LEVEL' && k !== 'REDISHAPPY_FROM_SOURCE')),
      {
        REDISHAPPY_EVENT: 'master-changed',
        REDISHAPPY_DELIVERY_ID: deliveryId,
        REDISHAPPY_CLUSTER: 'testing',
        REDISHAPPY_OLD_MASTER_IP: '10.0.0.1',
        REDISHAPPY_OLD_MASTER_PORT: '6379',
        REDISHAPPY_NEW_MASTER_IP: '10.0.0.2',
        REDISHAPPY_NEW_MASTER_PORT: '6379',
        REDISHAPPY_CONFIG_EPOCH: '2',
        REDISHAPPY_CONFIRMED_AT: confirmedAt,
        REDISHAPPY_READ_POOL: '',
      },
    );

    await waitFor(() => details(output).deliveries === 1, { timeoutMs: 5000, what: 'delivery counted' });
    const d = details(output);
    assert.equal(d.queued, 0);
    assert.equal(d.deliveryFailures, 0);
    assert.ok(d.hooks[0]!.lastDeliveryAt);
    assert.equal(output.status().lastError, null);
    const delivered = lines.find((l) => l.msg === 'exec hook delivered');
    assert.ok(delivered, 'delivery logged');
    assert.equal(delivered.output, 'hook rec handled testing', 'the command\'s output is in the log');
    assert.equal(delivered.delivery, deliveryId);
    // Exactly once: a later change for the same cluster goes through the same serial queue, so once
    // it has run, any second run of the first event (a retry after success, a duplicate) would be on file before it.
    await output.apply(snapshot(3, { testing: C }), [change('testing', B, C, 3)]);
    const runs = await waitFor(() => (details(output).deliveries === 2 ? w.runs() : undefined), { timeoutMs: 10000, what: 'the next change delivered' });
    assert.deepEqual(runs.map((r) => [r.input.deliveryId === deliveryId, (r.input.current as MasterAddress).ip]), [[true, '10.0.0.2'], [false, '10.0.0.3']], 'the first event ran exactly once, before the next');
  });

  it('retries a failing command with backoff, keeps the same event, and reports the failure until it succeeds', async (t) => {
    const cleanup = testCleanup(t);
    const w = workspace();
    const { logger, lines } = capturingLogger();
    const counter = join(w.dir, 'count');
    const output = createExecOutput(execSectionSchema.parse([{ Command: process.execPath, Args: [w.script, 'flaky', JSON.stringify({ failTimes: 2, counter })] }]), { logger, retryMinMs: 200, retryMaxMs: 1000 });
    cleanup.add(() => output.close());
    await output.apply(snapshot(2, { testing: B }), [change('testing', A, B)]);

    await waitFor(() => details(output).deliveryFailures === 1, { timeoutMs: 5000, what: 'first failure' });
    assert.match(output.status().lastError ?? '', /exited with code 3.*failing on purpose, run 1/);
    const [run] = await waitFor(() => (w.runs().length === 1 ? w.runs() : undefined), { timeoutMs: 10000, what: 'the command succeeded on the third run' });
    assert.equal(readFileSync(counter, 'utf8'), '3');
    await waitFor(() => details(output).deliveries === 1, { timeoutMs: 2000, what: 'delivery counted' });
    const d = details(output);
    assert.deepEqual({ failures: d.deliveryFailures, dropped: d.dropped, queued: d.queued }, { failures: 2, dropped: 0, queued: 0 });
    assert.equal(output.status().lastError, null, 'the error clears once delivered');
    const retries = lines.filter((l) => l.msg === 'exec hook failed; will retry');
    assert.equal(retries.length, 2);
    assert.ok((retries[1]!.retryInMs as number) >= (retries[0]!.retryInMs as number) * 0.9, 'backoff does not shrink');
    assert.equal(lines.find((l) => l.msg === 'exec hook delivered')?.delivery, run!.input.deliveryId, 'the retry delivered the same event');
  });

  it('kills a hanging command and its whole process group at the timeout, retries, then gives up after MaxAttempts', async (t) => {
    const cleanup = testCleanup(t);
    const w = workspace();
    const { logger, lines } = capturingLogger();
    const pids = join(w.dir, 'pids');
    // Through a shell: the grandchild `sleep` must die with the group, not be orphaned.
    // The pid is written at once; a 1.5 s timeout leaves ample room for that on a busy machine.
    const output = createExecOutput(execSectionSchema.parse([{ Command: `sleep 60 & echo $! >> ${pids}; wait`, Shell: true, TimeoutMs: 1500, MaxAttempts: 2 }]), { logger, retryMinMs: 50, retryMaxMs: 100 });
    cleanup.add(() => output.close());
    await output.apply(snapshot(2, { testing: B }), [change('testing', A, B)]);
    await waitFor(() => details(output).dropped === 1, { timeoutMs: 15000, what: 'event dropped after two timeouts' });
    const d = details(output);
    assert.deepEqual({ deliveries: d.deliveries, failures: d.deliveryFailures, dropped: d.dropped, queued: d.queued }, { deliveries: 0, failures: 2, dropped: 1, queued: 0 });
    assert.match(output.status().lastError ?? '', /timed out after 1500ms/);
    const sleepers = readFileSync(pids, 'utf8').trim().split('\n').map(Number);
    assert.equal(sleepers.length, 2, 'one run per attempt');
    await waitFor(() => sleepers.every((p) => !pidAlive(p)), { timeoutMs: 2000, what: 'grandchildren killed with the group' });
    assert.ok(lines.some((l) => l.msg === 'exec hook failed; giving up on this event' && l.level === 50));
  });

  it('does not retry a command that cannot be started, and runs no shell unless asked', async (t) => {
    const cleanup = testCleanup(t);
    const w = workspace();
    const { logger } = capturingLogger();
    const marker = join(w.dir, 'should-not-exist');
    const output = createExecOutput(execSectionSchema.parse([{ Command: `touch ${marker}; true` }, { Command: '/nonexistent/hook' }]), { logger, retryMinMs: 50, retryMaxMs: 100 });
    cleanup.add(() => output.close());
    await output.apply(snapshot(2, { testing: B }), [change('testing', A, B)]);
    await waitFor(() => details(output).dropped === 2, { timeoutMs: 5000, what: 'both dropped' });
    // A dropped event has left its queue: nothing more can happen for it. A retried ENOENT would
    // have counted a failure per attempt before being dropped.
    const d = details(output);
    assert.equal(d.queued, 0);
    assert.equal(d.deliveryFailures, 2, 'one attempt each: ENOENT is permanent');
    assert.equal(existsSync(marker), false, 'the command string was not given to a shell');
    assert.match(d.hooks[1]!.lastError ?? '', /cannot run \/nonexistent\/hook/);
  });

  it('passes Args as $1, $2 with Shell: true', async (t) => {
    const cleanup = testCleanup(t);
    const w = workspace();
    const { logger } = capturingLogger();
    const out = join(w.dir, 'shell.out');
    const output = createExecOutput(execSectionSchema.parse([{ Command: `printf '%s|%s|%s|' "$0" "$1" "$2" > ${out}; cat >> ${out}`, Args: ['one two', '$HOME'], Shell: true }]), { logger });
    cleanup.add(() => output.close());
    await output.apply(snapshot(2, { testing: B }), [change('testing', A, B)]);
    const text = await waitFor(() => (details(output).deliveries === 1 ? readFileSync(out, 'utf8') : undefined), { timeoutMs: 5000, what: 'shell hook ran' });
    assert.ok(text.startsWith('redishappy-hook|one two|$HOME|{'), text);
    assert.equal((JSON.parse(text.slice(text.indexOf('{'))) as { cluster: string }).cluster, 'testing');
  });

  it('keeps each cluster in order while other clusters and commands go ahead', async (t) => {
    const cleanup = testCleanup(t);
    const w = workspace();
    const { logger } = capturingLogger();
    // Every run for "testing" waits at a gate the test opens only once "other" has been handled.
    const gate = join(w.dir, 'gate-testing');
    const opts = JSON.stringify({ gateByCluster: { testing: gate } });
    const output = createExecOutput(
      execSectionSchema.parse([
        { Command: process.execPath, Args: [w.script, 'all', opts] },
        { Command: process.execPath, Args: [w.script, 'only-other', opts], Clusters: ['other'] },
      ]),
      { logger },
    );
    cleanup.add(() => output.close());
    const seq = (r: Run) => `${r.tag}:${r.input.cluster}:${(r.input.current as MasterAddress).ip}`;
    await output.apply(snapshot(2, { other: A, testing: B }), [change('testing', A, B)]);
    await output.apply(snapshot(3, { other: B, testing: B }), [change('other', A, B)]);
    await output.apply(snapshot(4, { other: B, testing: C }), [change('testing', B, C, 3)]);
    // "other" is not held up by the held "testing" events.
    const first = await waitFor(() => (details(output).deliveries === 2 ? w.runs() : undefined), { timeoutMs: 10000, what: '"other" handled while "testing" is held' });
    assert.deepEqual(first.map(seq).sort(), ['all:other:10.0.0.2', 'only-other:other:10.0.0.2']);
    assert.equal(details(output).queued, 2, 'both "testing" events still in hand');
    writeFileSync(gate, '');
    const runs = await waitFor(() => (details(output).deliveries === 4 ? w.runs() : undefined), { timeoutMs: 10000, what: 'four runs' });
    // "testing" events arrive in order, one at a time.
    assert.deepEqual(runs.slice(2).map(seq), ['all:testing:10.0.0.2', 'all:testing:10.0.0.3']);
    const testing = runs.filter((r) => r.input.cluster === 'testing');
    assert.ok(testing[1]!.startedAt >= testing[0]!.endedAt, 'the second event for a cluster starts after the first finished');
    assert.equal(runs.filter((r) => r.tag === 'only-other').length, 1, 'the Clusters filter applies');
  });
});
