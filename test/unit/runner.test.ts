import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { SinkRunner, mergeChanges } from '../../src/sinks/runner.js';
import type { Sink, SinkStatus } from '../../src/sinks/types.js';
import type { MasterChange, TopologySnapshot } from '../../src/topology/types.js';

const log = pino({ level: 'silent' });
const snap = (version: number): TopologySnapshot => ({ version, clusters: [] });
const change = (cluster: string, from: string | null, to: string): MasterChange => ({
  cluster,
  previous: from ? { ip: from, port: 1 } : null,
  current: { ip: to, port: 1 },
  configEpoch: 1,
  confirmedAt: '',
  announcedAt: null,
});

class RecordingSink implements Sink {
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
  status(): SinkStatus {
    return { name: this.name, lastAppliedAt: null, appliedVersion: null, lastError: null, lastErrorAt: null };
  }
  async close(): Promise<void> {}
}

describe('sink runner', () => {
  it('coalesces everything submitted during an apply into one next apply of the latest snapshot', async () => {
    const sink = new RecordingSink();
    sink.gate = new Promise((r) => (sink.release = r));
    const runner = new SinkRunner(sink, log);
    runner.submit(snap(1), [change('a', null, 'x')]);
    for (let i = 2; i <= 50; i++) runner.submit(snap(i), [change(`c${i}`, 'o', 'n')]);
    sink.release?.();
    sink.gate = null;
    await runner.idle();
    assert.equal(sink.calls.length, 2);
    assert.equal(sink.calls[1]?.version, 50);
    assert.equal(sink.calls[1]?.changes.length, 49);
    await runner.close();
  });

  it('retries a failed apply with the newest state', async () => {
    const sink = new RecordingSink();
    sink.failNext = 2;
    const runner = new SinkRunner(sink, log, { retryMinMs: 5, retryMaxMs: 20 });
    runner.submit(snap(1), [change('a', null, 'x')]);
    await runner.idle();
    assert.equal(sink.calls.length, 3);
    assert.deepEqual(sink.calls.map((c) => c.changes.length), [1, 1, 1]);
    await runner.close();
  });

  it('merges changes per cluster and drops round trips', () => {
    const merged = mergeChanges([change('a', 'x', 'y')], [change('a', 'y', 'z'), change('b', 'p', 'q')]);
    assert.deepEqual(merged.map((c) => [c.cluster, c.previous?.ip, c.current.ip]), [['a', 'x', 'z'], ['b', 'p', 'q']]);
    assert.deepEqual(mergeChanges([change('a', 'x', 'y')], [change('a', 'y', 'x')]), []);
  });
});

describe('sink runner settle window', () => {
  it('applies a burst arriving within settleMs as one apply', async () => {
    const sink = new RecordingSink();
    Object.assign(sink, { settleMs: 30 });
    const runner = new SinkRunner(sink, log);
    runner.submit(snap(1), [change('a', 'o', 'n')]);
    runner.submit(snap(2), [change('b', 'o', 'n')]);
    runner.submit(snap(3), [change('c', 'o', 'n')]);
    await runner.idle();
    assert.equal(sink.calls.length, 1);
    assert.equal(sink.calls[0]?.changes.length, 3);
    await runner.close();
  });
});
