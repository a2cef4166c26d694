import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { OutputRunner, mergeChanges } from '../../src/outputs/runner.js';
import type { Output, OutputStatus } from '../../src/outputs/types.js';
import type { MasterChange, TopologySnapshot } from '../../src/topology/types.js';

const log = pino({ level: 'silent' });

/** Polls until `cond` holds; rejects after `timeoutMs` (a bound, not a duration assertion). */
async function waitUntil(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not reached within ' + timeoutMs + ' ms');
    await new Promise((r) => setTimeout(r, 5));
  }
}
const snap = (version: number): TopologySnapshot => ({ version, clusters: [] });
const change = (cluster: string, from: string | null, to: string): MasterChange => ({
  cluster,
  previous: from ? { ip: from, port: 1 } : null,
  current: { ip: to, port: 1 },
  configEpoch: 1,
  confirmedAt: '',
  announcedAt: null,
});

class RecordingOutput implements Output {
  readonly name = 'rec';
  calls: Array<{ version: number; changes: MasterChange[] }> = [];
  failNext = 0;
  release: (() => void) | null = null;
  gate: Promise<void> | null = null;
  async apply(s: TopologySnapshot, changes: MasterChange[]): Promise<void> {
    this.calls.push({ version: s.version, changes });
    if (this.gate) await this.gate;
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('boom');
    }
  }
  status(): OutputStatus {
    return { name: this.name, lastAppliedAt: null, appliedVersion: null, lastError: null, lastErrorAt: null };
  }
  async close(): Promise<void> {}
}

describe('output runner', () => {
  it('coalesces everything submitted during an apply into one next apply of the latest snapshot', async () => {
    const output = new RecordingOutput();
    output.gate = new Promise((r) => (output.release = r));
    const runner = new OutputRunner(output, log);
    runner.submit(snap(1), [change('a', null, 'x')]);
    for (let i = 2; i <= 50; i++) runner.submit(snap(i), [change(`c${i}`, 'o', 'n')]);
    output.release?.();
    output.gate = null;
    await runner.idle();
    assert.equal(output.calls.length, 2);
    assert.equal(output.calls[1]?.version, 50);
    assert.equal(output.calls[1]?.changes.length, 49);
    await runner.close();
  });

  it('retries a failed apply with the newest state', async () => {
    const output = new RecordingOutput();
    output.failNext = 2;
    const runner = new OutputRunner(output, log, { retryMinMs: 5, retryMaxMs: 20 });
    runner.submit(snap(1), [change('a', null, 'x')]);
    await runner.idle();
    assert.equal(output.calls.length, 3);
    assert.deepEqual(output.calls.map((c) => c.changes.length), [1, 1, 1]);
    await runner.close();
  });

  it('tries a new master change at once instead of waiting for the backoff of an earlier failure', async () => {
    const output = new RecordingOutput();
    output.failNext = 1;
    // A backoff of 30-60 s: far beyond the bound below, so only an immediate retry passes.
    const runner = new OutputRunner(output, log, { retryMinMs: 60_000, retryMaxMs: 60_000 });
    runner.submit(snap(1), [change('a', null, 'x')]);
    await waitUntil(() => runner.status().details?.consecutiveFailures === 1);
    assert.equal(output.calls.length, 1, 'the first apply failed and is waiting for its backoff');
    runner.submit(snap(2), [change('a', 'x', 'y')]);
    await waitUntil(() => output.calls.length === 2 && runner.status().appliedVersion === 2);
    assert.equal(output.calls[1]?.version, 2);
    assert.deepEqual(output.calls[1]?.changes.map((c) => [c.previous?.ip, c.current.ip]), [[undefined, 'y']], 'the failed change and the new one, merged');
    await runner.close();
  });

  it('merges changes per cluster and drops round trips', () => {
    const merged = mergeChanges([change('a', 'x', 'y')], [change('a', 'y', 'z'), change('b', 'p', 'q')]);
    assert.deepEqual(merged.map((c) => [c.cluster, c.previous?.ip, c.current.ip]), [['a', 'x', 'z'], ['b', 'p', 'q']]);
    assert.deepEqual(mergeChanges([change('a', 'x', 'y')], [change('a', 'y', 'x')]), []);
  });
});

describe('output runner settle window', () => {
  it('applies a burst arriving within settleMs as one apply', async () => {
    const output = new RecordingOutput();
    Object.assign(output, { settleMs: 30 });
    const runner = new OutputRunner(output, log);
    runner.submit(snap(1), [change('a', 'o', 'n')]);
    runner.submit(snap(2), [change('b', 'o', 'n')]);
    runner.submit(snap(3), [change('c', 'o', 'n')]);
    await runner.idle();
    assert.equal(output.calls.length, 1);
    assert.equal(output.calls[0]?.changes.length, 3);
    await runner.close();
  });
});
