import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RuntimeClient, splitAnswers } from '../../src/outputs/haproxy/runtime.js';

const dir = mkdtempSync(join(tmpdir(), 'rh-runtime-unit-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const HEADER = '# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port';

/**
 * A stand-in for HAProxy 2.6's stats socket with one server, answering as 2.6 does (each answer
 * of a `;` list ends with an empty line). It records each connection's commands, and for each
 * `shutdown sessions` whether the server was forced up already (then new clients of the new
 * master were cut too).
 */
async function fakeHaproxy(opts: { server?: string } = {}) {
  const srv = opts.server ?? 'bk_testing/R_testing_1';
  const state = { addr: '127.0.0.1', port: 7000, up: false };
  const connections: string[][] = [];
  const cutWhileUp: boolean[] = [];
  const answer = (cmd: string): string => {
    let m: RegExpExecArray | null;
    if ((m = /^set server (\S+) addr (\S+) port (\d+)$/.exec(cmd))) {
      if (m[1] !== srv) return m[1]!.startsWith('bk_testing/') ? 'No such server.\n' : 'No such backend.\n';
      const before = `${state.addr}:${state.port}`;
      state.addr = m[2]!;
      state.port = Number(m[3]);
      return `IP changed from '${before}' to '${state.addr}:${state.port}' by 'stats socket command'\n`;
    }
    if ((m = /^shutdown sessions server (\S+)$/.exec(cmd))) {
      if (m[1] !== srv) return 'No such server.\n';
      cutWhileUp.push(state.up);
      return '';
    }
    if ((m = /^set server (\S+) (state ready|health up)$/.exec(cmd))) {
      if (m[1] !== srv) return 'No such server.\n';
      if (m[2] === 'health up') state.up = true;
      return '';
    }
    if ((m = /^show servers state (\S+)$/.exec(cmd))) {
      const [backend, server] = srv.split('/');
      if (m[1] !== backend) return `Can't find backend.\n`;
      return `1\n${HEADER}\n3 ${backend} 1 ${server} ${state.addr} ${state.up ? 2 : 0} 0 1 1 0 8 2 0 6 0 0 0 - ${state.port} - 0 0 - - 0\n`;
    }
    return 'Unknown command.\n';
  };
  const path = join(dir, `admin-${connections.length}-${Math.random().toString(36).slice(2)}.sock`);
  const server: Server = createServer((sock) => {
    let text = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => (text += d));
    sock.on('end', () => {
      const cmds = text.trim().split(';').map((c) => c.trim());
      connections.push(cmds);
      sock.end(cmds.map((c) => `${answer(c)}\n`).join(''));
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  after(() => server.close());
  return { path, connections, cutWhileUp, state };
}

describe('HAProxy runtime API: a live switch', () => {
  it('reaches clients after two connections, cuts only old sessions, three in all', async () => {
    const h = await fakeHaproxy();
    const state = await new RuntimeClient({ path: h.path }, 2000).switchServer('bk_testing', 'R_testing_1', '127.0.0.1', 7001);
    assert.equal(state.addr, '127.0.0.1');
    assert.equal(state.port, 7001);
    assert.equal(state.opState, 2);
    // Each connection is a round trip through both schedulers: fewer before clients get through.
    const upAt = h.connections.findIndex((cmds) => cmds.includes('set server bk_testing/R_testing_1 health up'));
    assert.equal(upAt, 1, `forced up in connection ${upAt + 1}: ${JSON.stringify(h.connections)}`);
    assert.equal(h.connections.length, 3, JSON.stringify(h.connections));
    // The cut comes while the server is still down: no session to the new master exists to be cut.
    assert.deepEqual(h.cutWhileUp, [false]);
  });

  it('forces the server up only after the address change was answered (never at the old address)', async () => {
    const h = await fakeHaproxy({ server: 'bk_testing/other' });
    await assert.rejects(new RuntimeClient({ path: h.path }, 2000).switchServer('bk_testing', 'R_testing_1', '127.0.0.1', 7001), /bk_testing\/R_testing_1 does not exist in the running HAProxy/);
    assert.equal(h.connections.length, 1);
    assert.ok(!h.connections.flat().some((c) => /state ready|health up/.test(c)), JSON.stringify(h.connections));
  });

  it('splits the answers of a `;` list', () => {
    assert.deepEqual(splitAnswers("IP changed from 'a' to 'b'\n\n\n"), ["IP changed from 'a' to 'b'", '']);
    assert.deepEqual(splitAnswers('x\n\nNo such server.\n\n'), ['x', 'No such server.', '']);
    assert.deepEqual(splitAnswers('\n\n'), ['', '']);
  });
});
