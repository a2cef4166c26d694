import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { askIdentity } from '../../src/verify/ask.js';
import { checkProxy, MasterIdentities } from '../../src/verify/checks.js';
import type { ClusterState } from '../../src/topology/types.js';
import type { ProxyDoor } from '../../src/outputs/types.js';
import { command, freePort, startRedis, testCleanup } from '../harness/index.js';

/**
 * The front-door question (src/verify/ask.ts: a bare socket and the RESP parser, no client
 * object) against a real redis-server: who answers, a refused password named as such, nothing
 * listening, a peer that never answers, and one that answers nonsense.
 */
const settings = (password?: string, username?: string) => ({ credentials: { username, password }, timeoutMs: 1500, keepAliveSeconds: 0 });

function listen(cleanup: { add(fn: () => unknown): void }, onSocket: (s: import('node:net').Socket) => void): Promise<number> {
  const open = new Set<import('node:net').Socket>();
  const server: Server = createServer((s) => {
    open.add(s);
    onSocket(s);
  });
  // A socket nobody reads never sees the peer's FIN: destroy what is left, or close() waits forever.
  cleanup.add(() => new Promise<void>((r) => {
    for (const s of open) s.destroy();
    server.close(() => r());
  }));
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
}

describe('askIdentity: one new connection, ROLE and INFO server (real redis-server)', { timeout: 60000 }, () => {
  it('names the instance that answers: its run_id, role and port', async (t) => {
    const cleanup = testCleanup(t);
    const master = await startRedis(cleanup);
    const replica = await startRedis(cleanup, { replicaOf: { host: master.host, port: master.port } });
    const runId = /run_id:(\w+)/.exec(String(await command(master, 'INFO', 'server')))![1];
    const a = await askIdentity(master.host, master.port, settings(), undefined);
    assert.deepEqual(a, { runId, role: 'master', tcpPort: master.port });
    const b = await askIdentity(replica.host, replica.port, settings(), undefined);
    assert.ok(!('error' in b) && b.role === 'slave' && b.runId !== runId && b.tcpPort === replica.port, JSON.stringify(b));
  });

  it('authenticates with a password, and with an ACL user; a wrong password is reported as the server says it', async (t) => {
    const cleanup = testCleanup(t);
    const node = await startRedis(cleanup, { password: 'sekret', extraConf: ['user probe on >probe-pw +role +info -@all +role +info +auth +hello'] });
    const ok = await askIdentity(node.host, node.port, settings('sekret'), undefined);
    assert.ok(!('error' in ok) && ok.role === 'master', JSON.stringify(ok));
    const user = await askIdentity(node.host, node.port, settings('probe-pw', 'probe'), undefined);
    assert.ok(!('error' in user) && user.role === 'master' && user.runId === (ok as { runId: string }).runId, JSON.stringify(user));
    const wrong = await askIdentity(node.host, node.port, settings('nope'), undefined);
    assert.ok('error' in wrong && /WRONGPASS|invalid password/i.test(wrong.error), JSON.stringify(wrong));
    const none = await askIdentity(node.host, node.port, settings(), undefined);
    assert.ok('error' in none && /NOAUTH/i.test(none.error), JSON.stringify(none));
  });

  it('a closed port is ECONNREFUSED (verification then does not apply again); a silent peer times out; nonsense is an error', async (t) => {
    const cleanup = testCleanup(t);
    const closed = await freePort();
    const refused = await askIdentity('127.0.0.1', closed, settings(), undefined);
    assert.ok('error' in refused && /ECONNREFUSED/.test(refused.error), JSON.stringify(refused));
    const silentPort = await listen(cleanup, () => {});
    // The timer's own answer: the silent peer ends by the timeout, not by a close or an error.
    const silent = await askIdentity('127.0.0.1', silentPort, settings(), undefined);
    assert.ok('error' in silent && /no answer within 1500ms/.test(silent.error), JSON.stringify(silent));
    const garbagePort = await listen(cleanup, (s) => s.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    const garbage = await askIdentity('127.0.0.1', garbagePort, settings(), undefined);
    assert.ok('error' in garbage, JSON.stringify(garbage));
  });

  it('checkProxy: a door that refuses is judged without asking the master (nothing to apply again); a door that answers is compared with it', async (t) => {
    const cleanup = testCleanup(t);
    const master = await startRedis(cleanup);
    const asked: number[] = [];
    const access = { tls: undefined, settings: () => settings() };
    const masters = new MasterIdentities(access);
    const original = masters.of.bind(masters);
    masters.of = (...args: Parameters<typeof original>) => {
      asked.push(Date.now());
      return original(...args);
    };
    const closed = await freePort();
    const cluster = (externalPort: number): ClusterState => ({ name: 'c', externalPort, master: { ip: master.host, port: master.port }, configEpoch: 1, confirmedAt: null, agreeingSentinels: [] });
    const ctx = { access, masters, parallel: 1, stopped: () => false };
    const door: ProxyDoor = { kind: 'proxy', host: '127.0.0.1', ports: {}, reads: false, tls: undefined, settleMs: 0 };

    const refused = (await checkProxy(door, [cluster(closed)], ctx)).get('c');
    assert.ok(refused?.state === 'unreachable' && /ECONNREFUSED/.test(refused.error), JSON.stringify(refused));
    assert.equal(refused.applyAgain, false, 'nothing listens at the door: applying again cannot help');
    assert.equal(asked.length, 0, 'the master was not asked');

    // The same check with a door that answers (the master itself stands for the proxy): asked and verified.
    const reached = (await checkProxy(door, [cluster(master.port)], ctx)).get('c');
    assert.deepEqual(reached, { state: 'verified' });
    assert.equal(asked.length, 1, 'an answering door is compared with the master');
  });
});
