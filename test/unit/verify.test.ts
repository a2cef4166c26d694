import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ConfigError, parseConfigText } from '../../src/config/load.js';
import { identityOf } from '../../src/verify/identity.js';
import { afterWrong, applyAgainMayHelp, applyWindow, judgeDoor, judgeEntry, PENDING_DEADLINE_MS, stateAt } from '../../src/verify/judge.js';
import { forEachLimited } from '../../src/verify/pool.js';
import { OutputVerifier } from '../../src/verify/verifier.js';
import type { FrontDoor, Output } from '../../src/outputs/types.js';
import { TopologyStore } from '../../src/topology/store.js';
import type { MasterAddress } from '../../src/topology/types.js';

const A = { runId: 'a'.repeat(40), role: 'master', tcpPort: 6379 };
const B = { runId: 'b'.repeat(40), role: 'slave', tcpPort: 6380 };

describe('front-door verification: the pure parts', () => {
  it('who answered: role from ROLE, run_id and tcp_port from INFO server', () => {
    const info = '# Server\r\nredis_version:7.0.15\r\nrun_id:' + A.runId + '\r\ntcp_port:6379\r\n';
    assert.deepEqual(identityOf(['master', 0, []], info), A);
    assert.deepEqual(identityOf([Buffer.from('slave'), '127.0.0.1', 6379, 'connected', 10], 'run_id:x\r\n'), { runId: 'x', role: 'slave', tcpPort: null });
    assert.deepEqual(identityOf(null, ''), { runId: '', role: 'unknown', tcpPort: null });
  });

  it('a door is verified only when it reaches the confirmed master itself (same run_id)', () => {
    assert.deepEqual(judgeDoor(A, A), { state: 'verified' });
    assert.deepEqual(judgeDoor(B, A), { state: 'wrong', reached: { runId: B.runId, role: 'slave', address: ':6380' } });
    // An instance that merely announces itself as master is still another instance.
    assert.equal(judgeDoor({ ...B, role: 'master' }, A).state, 'wrong');
    assert.match((judgeDoor({ error: 'ECONNREFUSED' }, A) as { error: string }).error, /front door: ECONNREFUSED/);
    assert.match((judgeDoor(A, { error: 'timeout' }) as { error: string }).error, /confirmed master did not answer/);
    // Nothing to compare with: never "verified" by two empty run_ids.
    assert.equal(judgeDoor({ ...A, runId: '' }, { ...A, runId: '' }).state, 'unreachable');
  });

  it('a door that did not answer is applied again only when that may help', () => {
    const master = { role: 'master', runId: 'a'.repeat(40), tcpPort: 6379 };
    assert.equal(applyAgainMayHelp({ error: 'Connection is closed: write EPIPE' }, master), true, 'the proxy took the connection, nothing behind it: maybe a dropped reload');
    assert.equal(applyAgainMayHelp({ error: 'connect ECONNREFUSED 127.0.0.1:7000' }, master), false, 'nothing listens at the door');
    assert.equal(applyAgainMayHelp({ error: 'Connection is closed' }, { error: 'connect ECONNREFUSED 10.0.0.1:6379' }), false, 'the master is down');
  });

  it('a registry entry is verified only when it names the confirmed master', () => {
    const m: MasterAddress = { ip: '10.0.0.1', port: 6379 };
    assert.deepEqual(judgeEntry({ ip: '10.0.0.1', port: 6379 }, m), { state: 'verified' });
    assert.deepEqual(judgeEntry({ ip: '10.0.0.2', port: 6379 }, m), { state: 'wrong', reached: { address: '10.0.0.2:6379' } });
    assert.deepEqual(judgeEntry(null, m), { state: 'wrong', reached: { address: '(no entry)' } });
    assert.equal(judgeEntry({ error: '500' }, m).state, 'unreachable');
  });

  it('while an apply takes effect: success counts only after the settle time, failure only after the deadline', () => {
    const w = applyWindow(1000, 250);
    assert.deepEqual(w, { settleUntil: 1250, deadline: 1000 + PENDING_DEADLINE_MS });
    assert.equal(stateAt({ state: 'verified' }, 1100, w), 'pending', 'an old nginx worker may still accept');
    assert.equal(stateAt({ state: 'verified' }, 1250, w), 'verified');
    assert.equal(stateAt({ state: 'wrong', reached: {} }, 1500, w), 'pending', 'not wrong while the reload takes effect');
    assert.equal(stateAt({ state: 'wrong', reached: {} }, 2000, w), 'wrong');
    assert.equal(stateAt({ state: 'unreachable', error: 'x' }, 1999, w), 'pending');
    assert.equal(stateAt({ state: 'wrong', reached: {} }, 0, null), 'wrong', 'a periodic check has no window');
    assert.equal(applyWindow(0, 5000).deadline, 5000, 'the deadline never comes before the settle time');
  });

  it('a wrong route is applied again at most VerifyRetries times, then reported once', () => {
    assert.equal(afterWrong(0, 3, false), 'retry');
    assert.equal(afterWrong(2, 3, false), 'retry');
    assert.equal(afterWrong(3, 3, false), 'give-up');
    assert.equal(afterWrong(3, 3, true), 'reported');
    assert.equal(afterWrong(0, 0, false), 'give-up', 'VerifyRetries 0: report at once');
  });

  it('forEachLimited: never more than the limit at once, starts spread by the gap', async () => {
    let running = 0;
    let most = 0;
    const starts: number[] = [];
    const t0 = Date.now();
    await forEachLimited(Array.from({ length: 12 }, (_, i) => i), 3, async () => {
      starts.push(Date.now() - t0);
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
    }, { gapMs: 4 });
    assert.equal(starts.length, 12);
    assert.ok(most <= 3, `at most 3 at once (${most})`);
    assert.ok(starts[11]! >= 11 * 4 - 2, `the last starts after 11 gaps (${starts[11]} ms)`);
  });
});

describe('OutputVerifier (a registry door that always answers wrong)', () => {
  it('many clusters wrong at once: a handful of re-applies in all, never one per cluster, and the topology is untouched', async () => {
    const names = Array.from({ length: 200 }, (_, i) => `c${String(i).padStart(3, '0')}`);
    const topology = new TopologyStore(names.map((name, i) => ({ name, externalPort: 7000 + i })));
    for (const n of names) topology.confirm(n, { ip: '10.0.0.1', port: 6379 }, 1, ['s'], null);
    const before = JSON.stringify(topology.snapshot());
    let forgotten = 0;
    const door: FrontDoor = { kind: 'registry', read: async (clusters) => new Map(clusters.map((c) => [c, { ip: '10.9.9.9', port: 6379 }] as const)), intervalMs: 100000, retries: 2 };
    const output: Output = { name: 'fake', apply: async () => {}, status: () => ({ name: 'fake', lastAppliedAt: null, appliedVersion: null, lastError: null, lastErrorAt: null }), close: async () => {}, frontDoor: () => door, forget: () => forgotten++ };
    let submits = 0;
    const late: { v?: OutputVerifier } = {};
    const runner = {
      busy: () => false,
      backoffMs: () => 5,
      // The runner applies at once and reports it, as OutputRunner does.
      submit: () => {
        submits++;
        setImmediate(() => late.v?.applied([]));
      },
    };
    const v = new OutputVerifier({ output, runner, snapshot: () => topology.snapshot(), access: { tls: undefined, settings: () => ({ credentials: {}, timeoutMs: 100, keepAliveSeconds: 0 }) }, logger: pino({ level: 'silent' }) });
    late.v = v;
    v.start();
    v.applied([]);
    const deadline = Date.now() + 10000;
    while (![...v.states().values()].every((r) => r.gaveUp) || v.states().size < names.length) {
      assert.ok(Date.now() < deadline, 'every route reported within 10 s');
      await new Promise((r) => setTimeout(r, 20));
    }
    v.close();
    assert.equal(submits, 2, 'one re-apply per retry for all 200 clusters together');
    assert.equal(forgotten, 2);
    assert.ok([...v.states().values()].every((r) => r.state === 'wrong' && r.retries === 2));
    assert.equal(JSON.stringify(topology.snapshot()), before, 'verification never changes what is confirmed');
  });

  it('nothing answers through the door since the apply: applied again (bounded); a route verified before that stops answering is left alone', async () => {
    const topology = new TopologyStore([{ name: 'a', externalPort: 7000 }]);
    topology.confirm('a', { ip: '10.0.0.1', port: 6379 }, 1, ['s'], null);
    let answering = false;
    const door: FrontDoor = {
      kind: 'registry',
      read: async (clusters) => {
        if (!answering) throw new Error('connection refused');
        return new Map(clusters.map((c) => [c, { ip: '10.0.0.1', port: 6379 }] as const));
      },
      // The periodic check is what finds the proven route gone quiet below.
      intervalMs: 200,
      retries: 2,
    };
    const output: Output = { name: 'fake', apply: async () => {}, status: () => ({ name: 'fake', lastAppliedAt: null, appliedVersion: null, lastError: null, lastErrorAt: null }), close: async () => {}, frontDoor: () => door, forget: () => {} };
    let submits = 0;
    const late: { v?: OutputVerifier } = {};
    const runner = { busy: () => false, backoffMs: () => 5, submit: () => void (submits++, setImmediate(() => late.v?.applied([]))) };
    const v = new OutputVerifier({ output, runner, snapshot: () => topology.snapshot(), access: { tls: undefined, settings: () => ({ credentials: {}, timeoutMs: 100, keepAliveSeconds: 0 }) }, logger: pino({ level: 'silent' }) });
    late.v = v;
    v.start();
    const until = async (ok: () => boolean, what: string) => {
      const deadline = Date.now() + 10000;
      while (!ok()) {
        assert.ok(Date.now() < deadline, what);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    v.applied([]);
    await until(() => v.states().get('a')?.gaveUp === true, 'the unanswered route reported within 10 s');
    assert.equal(v.states().get('a')?.state, 'unreachable');
    assert.equal(submits, 2, 'applied again VerifyRetries times, then reported');
    // Answering again: verified. Then the door stops answering: no apply again for a proven route.
    answering = true;
    v.applied([]);
    await until(() => v.states().get('a')?.state === 'verified', 'verified once the door answers');
    answering = false;
    const before = submits;
    await until(() => v.states().get('a')?.state === 'unreachable', 'unreachable again (periodic check)');
    await new Promise((r) => setTimeout(r, 500));
    v.close();
    assert.equal(submits, before, 'a route that was verified is not applied again when its door goes quiet');
  });
});

describe('Verify keys in the configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rh-verify-unit-'));
  const tmpl = join(dir, 't.tmpl');
  writeFileSync(tmpl, '{{range .Clusters}}{{.Name}}{{end}}');
  const base = (extra: Record<string, unknown>) =>
    JSON.stringify({ Clusters: [{ Name: 'a', ExternalPort: 7000 }, { Name: 'b', ExternalPort: 7001 }], Sentinels: [{ Host: '127.0.0.1', Port: 26379 }], ...extra });
  const problems = (text: string): string[] => {
    try {
      parseConfigText(text, 'test', {}, 'auto');
      return [];
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
  };

  it('accepted in any key case: false, true, or { Host, Port, Tls } with a port per cluster; defaults filled', () => {
    const { config } = parseConfigText(base({ haproxy: { TemplatePath: tmpl, OutputPath: join(dir, 'o'), ReloadCommand: 'true', verify: { host: '10.0.0.5', port: { a: 8000 }, tls: false }, verifyintervalms: 500 } }), 'test', {}, 'auto');
    assert.deepEqual(config.HAProxy?.Verify, { Host: '10.0.0.5', Port: { a: 8000 }, Tls: false });
    assert.equal(config.HAProxy?.VerifyIntervalMs, 500);
    assert.equal(config.HAProxy?.VerifyRetries, 3);
    const t = parseConfigText(base({ Templates: [{ Name: 'n', TemplatePath: tmpl, OutputPath: join(dir, 'p'), Verify: false }], Consul: { Verify: false } }), 'test', {}, 'auto').config;
    assert.equal(t.Templates?.[0]?.Verify, false);
    assert.equal(t.Consul?.Verify, false);
  });

  it('refused with the field named', () => {
    assert.deepEqual(problems(base({ HAProxy: { TemplatePath: tmpl, OutputPath: join(dir, 'o'), ReloadCommand: 'true', Verify: 'yes' } })), ['HAProxy.Verify: must be false, true or an object { Host, Port, Tls }']);
    assert.deepEqual(problems(base({ HAProxy: { TemplatePath: tmpl, OutputPath: join(dir, 'o'), ReloadCommand: 'true', Verify: { Port: 7000 } } })), ['HAProxy.Verify.Port: a single port fits one cluster only; with 2 clusters give an object mapping cluster names to ports']);
    assert.deepEqual(problems(base({ Templates: [{ Name: 'n', TemplatePath: tmpl, OutputPath: join(dir, 'p'), Verify: { Port: { c: 1 } } }] })), ['Templates[0].Verify.Port: "c" is not a configured cluster']);
    assert.deepEqual(problems(base({ HAProxy: { TemplatePath: tmpl, OutputPath: join(dir, 'o'), ReloadCommand: 'true', VerifyRetries: -1, VerifyIntervalMs: 10 } })).sort(), ['HAProxy.VerifyIntervalMs: must be at least 100', 'HAProxy.VerifyRetries: must be 0 or more']);
    assert.deepEqual(problems(base({ Consul: { Verify: {} } })), ['Consul.Verify: must be true or false']);
  });
});
