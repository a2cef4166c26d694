import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import pino from 'pino';
import { judgeReadDoor, readExpectation, stateAt, applyWindow, type KnownInstance } from '../../src/verify/judge.js';
import { OutputVerifier } from '../../src/verify/verifier.js';
import type { FrontDoor, Output } from '../../src/outputs/types.js';
import { TopologyStore } from '../../src/topology/store.js';
import type { ClusterState, ReadPool } from '../../src/topology/types.js';
import type { Identity } from '../../src/verify/types.js';

/**
 * Read doors (issue 22): a new connection through a cluster's ExternalReadPort must reach a
 * member of its read pool, the master as fallback, or be refused when reads must be refused.
 */

const M: Identity = { runId: 'm'.repeat(40), role: 'master', tcpPort: 6379 };
const R1: Identity = { runId: '1'.repeat(40), role: 'slave', tcpPort: 6379 };
const R2: Identity = { runId: '2'.repeat(40), role: 'slave', tcpPort: 6379 };
/** A replica of the same master on a third host that LEFT the pool (lagging): same role, same port, same master. */
const OUT: Identity = { runId: '3'.repeat(40), role: 'slave', tcpPort: 6379 };

const pool = (...serving: Array<[string, number]>): ReadPool => ({
  candidates: serving.map(([ip, port]) => ({ ip, port, state: 'serving' as const, reason: null, lagBytes: 0 })),
  serving: serving.map(([ip, port]) => ({ ip, port })),
});

const cluster = (over: Partial<ClusterState>): ClusterState => ({
  name: 'c',
  externalPort: 7000,
  master: { ip: '10.0.0.1', port: 6379 },
  configEpoch: 1,
  confirmedAt: null,
  agreeingSentinels: [],
  externalReadPort: 7001,
  readFallbackToMaster: true,
  readPool: pool(['10.0.0.2', 6379], ['10.0.0.3', 6379]),
  ...over,
});

describe('read doors: the pure parts', () => {
  it('where a read door must lead: the serving replicas, else the master (fallback on), else nowhere; nothing to check without a read port, a master or a pool', () => {
    assert.deepEqual(readExpectation(cluster({})), { target: 'replicas', members: ['10.0.0.2:6379', '10.0.0.3:6379'] });
    assert.deepEqual(readExpectation(cluster({ readPool: pool() })), { target: 'master', members: ['10.0.0.1:6379'] });
    assert.deepEqual(readExpectation(cluster({ readPool: pool(), readFallbackToMaster: undefined })), { target: 'master', members: ['10.0.0.1:6379'] }, 'fallback is on by default');
    assert.deepEqual(readExpectation(cluster({ readPool: pool(), readFallbackToMaster: false })), { target: 'none', members: [] });
    assert.equal(readExpectation(cluster({ externalReadPort: null })), null);
    assert.equal(readExpectation(cluster({ master: null })), null);
    assert.equal(readExpectation(cluster({ readPool: null })), null, 'the pool is not computed yet');
  });

  const members: KnownInstance[] = [
    { address: '10.0.0.2:6379', identity: R1 },
    { address: '10.0.0.3:6379', identity: R2 },
  ];
  const master: KnownInstance[] = [{ address: '10.0.0.1:6379', identity: M }];
  const replicas = { target: 'replicas' as const, members: members.map((m) => m.address) };

  it('replicas serve: any member is verified and named; anything else is wrong, told apart by run_id (every replica says slave on 6379)', () => {
    assert.deepEqual(judgeReadDoor(R1, replicas, members, master), { state: 'verified', servedBy: '10.0.0.2:6379' });
    assert.deepEqual(judgeReadDoor(R2, replicas, members, master), { state: 'verified', servedBy: '10.0.0.3:6379' });
    // A replica that left the pool looks exactly like a member by role and tcp_port: only run_id tells.
    assert.deepEqual(judgeReadDoor(OUT, replicas, members, master), { state: 'wrong', reached: { runId: OUT.runId, role: 'slave', address: ':6379' } });
    // The master while replicas serve is wrong (the read slots do not serve), and named.
    assert.deepEqual(judgeReadDoor(M, replicas, members, master), { state: 'wrong', reached: { runId: M.runId, role: 'master', address: '10.0.0.1:6379' } });
    // No run_id through the door: another instance as far as anyone can tell, never verified.
    assert.equal(judgeReadDoor({ ...R1, runId: '' }, replicas, members, master).state, 'wrong');
  });

  it('nothing to compare: the door answers nothing, or a member does not answer and nothing else matched', () => {
    assert.deepEqual(judgeReadDoor({ error: 'ECONNREFUSED' }, replicas, members), { state: 'unreachable', error: 'through the read door: ECONNREFUSED' });
    const silent: KnownInstance[] = [members[0]!, { address: '10.0.0.3:6379', identity: { error: 'timeout' } }];
    assert.equal(judgeReadDoor(R1, replicas, silent).state, 'verified', 'the member that answered matched: verified');
    const v = judgeReadDoor(OUT, replicas, silent);
    assert.equal(v.state, 'unreachable', 'it may be the silent member: not wrong');
    assert.match((v as { error: string }).error, /10\.0\.0\.3:6379 did not answer: timeout/);
    assert.equal(judgeReadDoor(OUT, replicas, [members[0]!, { address: '10.0.0.3:6379', identity: { ...R2, runId: '' } }]).state, 'unreachable', 'a member hiding INFO: nothing to compare');
  });

  it('fallback to the master: verified on the master only', () => {
    const fallback = { target: 'master' as const, members: ['10.0.0.1:6379'] };
    assert.deepEqual(judgeReadDoor(M, fallback, master), { state: 'verified', servedBy: '10.0.0.1:6379' });
    assert.equal(judgeReadDoor(R1, fallback, master).state, 'wrong', 'a replica out of the pool (empty) must not serve');
  });

  it('reads refused (no serving replica, ReadFallbackToMaster false): a refused or closed connection is verified, any answer is wrong', () => {
    const none = { target: 'none' as const, members: [] };
    assert.deepEqual(judgeReadDoor({ error: 'Connection is closed.' }, none, []), { state: 'verified', refused: 'Connection is closed.' });
    assert.deepEqual(judgeReadDoor({ error: 'connect ECONNREFUSED 127.0.0.1:7001' }, none, []), { state: 'verified', refused: 'connect ECONNREFUSED 127.0.0.1:7001' });
    assert.deepEqual(judgeReadDoor(M, none, [], master), { state: 'wrong', reached: { runId: M.runId, role: 'master', address: '10.0.0.1:6379' } });
    assert.equal(judgeReadDoor(OUT, none, [], master).state, 'wrong');
  });

  it('after an apply, a read verdict waits like a write one: a refusal seen before the settle time proves nothing', () => {
    const w = applyWindow(1000, 250);
    assert.equal(stateAt({ state: 'verified', refused: 'closed' }, 1100, w), 'pending');
    assert.equal(stateAt({ state: 'verified', refused: 'closed' }, 1300, w), 'verified');
    assert.equal(stateAt({ state: 'wrong', reached: {} }, 1500, w), 'pending');
  });
});

// ---- The verifier with read doors, against tiny RESP servers -----------------------------------

/** A stand-in Redis answering ROLE and INFO server as `who()` says; `who()` null: closes each connection (refused). */
async function fakeInstance(t: TestContext, who: () => Identity | null): Promise<number> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const id = who();
    if (!id) {
      socket.destroy();
      return;
    }
    let buffered = '';
    socket.on('data', (chunk) => {
      buffered += chunk.toString('latin1');
      // Inline or multibulk commands: answer each complete one (the client sends ROLE then INFO).
      for (;;) {
        const m = /^\*(\d+)\r\n((?:\$\d+\r\n[^\r]*\r\n)+)/.exec(buffered);
        if (!m) return;
        const parts = m[2]!.split('\r\n').filter((_, i) => i % 2 === 1);
        if (parts.length < Number(m[1])) return;
        buffered = buffered.slice(m[0].length);
        const cmd = parts[0]!.toUpperCase();
        if (cmd === 'ROLE') socket.write(id.role === 'master' ? '*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n' : '*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:6379\r\n$9\r\nconnected\r\n:0\r\n');
        else if (cmd === 'INFO') {
          const text = `# Server\r\nrun_id:${id.runId}\r\ntcp_port:${id.tcpPort}\r\n`;
          socket.write(`$${Buffer.byteLength(text)}\r\n${text}\r\n`);
        } else socket.write('+OK\r\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as { port: number }).port;
}

async function until<T>(what: string, fn: () => T | undefined, timeoutMs = 10000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('OutputVerifier with read doors (stand-in instances)', () => {
  it('verified through the read pool; a door reaching a non-member is wrong, applied again VerifyRetries times, reported; the topology untouched; a new pool is a new route', async (t) => {
    const masterPort = await fakeInstance(t, () => M);
    const r1Port = await fakeInstance(t, () => R1);
    const r2Port = await fakeInstance(t, () => R2);
    let readDoor: Identity | null = R1;
    const readPort = await fakeInstance(t, () => readDoor);
    const writePort = await fakeInstance(t, () => M);

    const topology = new TopologyStore([{ name: 'c', externalPort: writePort, externalReadPort: readPort, readFallbackToMaster: false }]);
    topology.confirm('c', { ip: '127.0.0.1', port: masterPort }, 1, ['s'], null);
    topology.setReadPool('c', pool(['127.0.0.1', r1Port], ['127.0.0.1', r2Port]));
    const forgotten: string[][] = [];
    const door: FrontDoor = { kind: 'proxy', host: '127.0.0.1', ports: {}, reads: true, tls: undefined, settleMs: 0, intervalMs: 100, retries: 2 };
    const output: Output = { name: 'fake', apply: async () => {}, status: () => ({ name: 'fake', lastAppliedAt: null, appliedVersion: null, lastError: null, lastErrorAt: null }), close: async () => {}, frontDoor: () => door, forget: (c) => forgotten.push([...c]) };
    let submits = 0;
    const late: { v?: OutputVerifier } = {};
    const runner = {
      busy: () => false,
      backoffMs: () => 5,
      submit: () => {
        submits++;
        setImmediate(() => late.v?.applied([]));
      },
    };
    const v = new OutputVerifier({ output, runner, snapshot: () => topology.snapshot(), access: { tls: undefined, settings: () => ({ credentials: {}, timeoutMs: 1000, keepAliveSeconds: 0 }) }, logger: pino({ level: 'silent' }) });
    late.v = v;
    t.after(() => v.close());
    v.start();
    v.applied([]);

    const ok = await until('the read door verified', () => (v.readStates().get('c')?.state === 'verified' ? v.readStates().get('c') : undefined));
    assert.equal(ok.servedBy, `127.0.0.1:${r1Port}`);
    assert.equal(ok.readTarget, 'replicas');
    assert.deepEqual(ok.readPool, [`127.0.0.1:${r1Port}`, `127.0.0.1:${r2Port}`]);
    assert.equal(ok.door, `127.0.0.1:${readPort}`);
    await until('the write door verified', () => v.states().get('c')?.state === 'verified');
    readDoor = R2;
    await until('the other member verified too', () => v.readStates().get('c')?.servedBy === `127.0.0.1:${r2Port}`);

    // The door now reaches the master while replicas serve: wrong, re-applied twice, reported.
    const before = JSON.stringify(topology.snapshot());
    readDoor = M;
    const reported = await until('the read route reported', () => (v.readStates().get('c')?.gaveUp ? v.readStates().get('c') : undefined));
    assert.equal(reported.state, 'wrong');
    assert.equal(reported.retries, 2);
    assert.deepEqual(reported.reached, { runId: M.runId, role: 'master', address: `127.0.0.1:${masterPort}` });
    assert.equal(submits, 2, 'one re-apply per retry');
    assert.deepEqual(forgotten, [['c'], ['c']], 'the re-apply is told which cluster to do again');
    assert.equal(v.states().get('c')?.state, 'verified', 'the write door is its own route: still verified');
    assert.equal(JSON.stringify(topology.snapshot()), before, 'verification never changes what is confirmed (nor the pool)');

    // A new pool (none serve, fallback off) is a new route: retries start again, and a refusing door is right.
    readDoor = null;
    topology.setReadPool('c', pool());
    v.applied([]);
    const refused = await until('refused verified', () => (v.readStates().get('c')?.state === 'verified' ? v.readStates().get('c') : undefined));
    assert.equal(refused.readTarget, 'none');
    assert.equal(refused.retries, 0);
    assert.ok(refused.refused, `the refusal is kept: ${refused.refused}`);
    // ... and a door that still answers when reads must be refused is wrong.
    readDoor = R1;
    const w = await until('a door answering while reads must be refused is wrong', () => (v.readStates().get('c')?.state === 'wrong' ? v.readStates().get('c') : undefined));
    assert.equal(w.reached?.runId, R1.runId);
  });

  it('a proxy that does not serve reads (reads: false) has no read routes', async (t) => {
    const masterPort = await fakeInstance(t, () => M);
    const writePort = await fakeInstance(t, () => M);
    const topology = new TopologyStore([{ name: 'c', externalPort: writePort, externalReadPort: 1, readFallbackToMaster: true }]);
    topology.confirm('c', { ip: '127.0.0.1', port: masterPort }, 1, ['s'], null);
    topology.setReadPool('c', pool());
    const door: FrontDoor = { kind: 'proxy', host: '127.0.0.1', ports: {}, reads: false, tls: undefined, settleMs: 0, intervalMs: 100, retries: 2 };
    const output: Output = { name: 'fake', apply: async () => {}, status: () => ({ name: 'fake', lastAppliedAt: null, appliedVersion: null, lastError: null, lastErrorAt: null }), close: async () => {}, frontDoor: () => door };
    const v = new OutputVerifier({ output, runner: { busy: () => false, backoffMs: () => 5, submit: () => {} }, snapshot: () => topology.snapshot(), access: { tls: undefined, settings: () => ({ credentials: {}, timeoutMs: 1000, keepAliveSeconds: 0 }) }, logger: pino({ level: 'silent' }) });
    t.after(() => v.close());
    v.start();
    v.applied([]);
    await until('the write door verified', () => v.states().get('c')?.state === 'verified');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(v.readStates().size, 0);
  });
});
