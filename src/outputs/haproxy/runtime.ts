import { createConnection, isIP, type Socket } from 'node:net';
import { joinHostPort } from '../../config/address.js';

/**
 * Client for HAProxy's runtime API (the admin "stats socket"). Switching a server's address live
 * avoids a reload, and only the running worker can cut the sessions still attached to the old
 * master: after a reload the old worker keeps them, out of reach of the new worker's socket.
 */

export type RuntimeTarget = { path: string } | { host: string; port: number };

/** "/run/haproxy/admin.sock" (or "unix@...") → unix socket; "host:port" / "[v6]:port" → TCP. */
export function parseRuntimeSocket(value: string): RuntimeTarget {
  const v = value.trim();
  if (v.startsWith('unix@')) return { path: v.slice(5) };
  const tcp = /^(?:ipv4@|ipv6@)?(?:\[([^\]]+)\]|([^:/\s]+)):(\d{1,5})$/.exec(v);
  if (tcp && !v.includes('/')) {
    const port = Number(tcp[3]);
    if (port >= 1 && port <= 65535) return { host: (tcp[1] ?? tcp[2]) as string, port };
  }
  return { path: v };
}

export function describeTarget(t: RuntimeTarget): string {
  return 'path' in t ? t.path : joinHostPort(t.host, t.port);
}

/** Values placed in a command must be single words: HAProxy splits on spaces and `;`, and a newline ends the command. */
const SAFE_WORD = /^[^\s;#'"\\]+$/;

export function assertSafeWord(what: string, value: string): void {
  if (!SAFE_WORD.test(value)) throw new Error(`${what} ${JSON.stringify(value)} cannot be used in an HAProxy runtime command`);
}

/**
 * Sends one command and returns the whole answer. HAProxy 2.6 answers a non-interactive
 * connection only once the client has half-closed, then closes its side.
 */
export function runtimeCommand(target: RuntimeTarget, command: string, timeoutMs: number): Promise<string> {
  if (/[\r\n]/.test(command)) return Promise.reject(new Error('runtime command must be a single line'));
  return new Promise((resolve, reject) => {
    let answer = '';
    let done = false;
    const sock: Socket = 'path' in target ? createConnection(target.path) : createConnection(target.port, target.host);
    const finish = (err: Error | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(answer);
    };
    const timer = setTimeout(() => finish(new Error(`no answer from HAProxy runtime socket ${describeTarget(target)} within ${timeoutMs} ms`)), timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.end(`${command}\n`));
    sock.on('data', (chunk: string) => (answer += chunk));
    sock.on('end', () => finish(null));
    sock.on('close', () => finish(null));
    sock.on('error', (err) => finish(new Error(`HAProxy runtime socket ${describeTarget(target)}: ${err.message}`)));
  });
}

export interface ServerState {
  backend: string;
  server: string;
  addr: string;
  port: number;
  /** 0 stopped, 1 starting, 2 running, 3 stopping. */
  opState: number;
  /** Bit field; any maintenance bit means the server takes no traffic. */
  adminState: number;
}

/** SRV_ADMF_FMAINT | IMAINT | CMAINT | RMAINT | HMAINT. */
const ADMIN_MAINT_MASK = 0x01 | 0x02 | 0x04 | 0x20 | 0x40;

/** Parses `show servers state <backend>` (format version 1: columns named in the `#` header). */
export function parseServersState(text: string): ServerState[] {
  const lines = text.split('\n');
  const header = lines.find((l) => l.startsWith('# be_id'));
  if (!header) return [];
  const cols = header.slice(2).trim().split(/\s+/);
  const idx = (name: string) => cols.indexOf(name);
  const [iBe, iSrv, iAddr, iPort, iOp, iAdmin] = ['be_name', 'srv_name', 'srv_addr', 'srv_port', 'srv_op_state', 'srv_admin_state'].map(idx) as [number, number, number, number, number, number];
  if ([iBe, iSrv, iAddr, iPort, iOp, iAdmin].some((i) => i < 0)) return [];
  const out: ServerState[] = [];
  for (const line of lines) {
    if (line === '' || line.startsWith('#') || /^\d+$/.test(line.trim())) continue;
    const f = line.trim().split(/\s+/);
    if (f.length < cols.length) continue;
    out.push({
      backend: f[iBe] as string,
      server: f[iSrv] as string,
      addr: f[iAddr] as string,
      port: Number(f[iPort]),
      opState: Number(f[iOp]),
      adminState: Number(f[iAdmin]),
    });
  }
  return out;
}

/** Canonical text of an IP literal, so "0:0::1" and "::1" compare equal. */
export function canonicalIp(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  try {
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return ip.toLowerCase(); // e.g. a zone id ("fe80::1%eth0"), which URL does not accept.
  }
}

export class RuntimeClient {
  constructor(
    readonly target: RuntimeTarget,
    private readonly timeoutMs: number,
  ) {}

  send(command: string): Promise<string> {
    return runtimeCommand(this.target, command, this.timeoutMs);
  }

  /** The server's live state, or null when the backend or server does not exist in the running HAProxy. */
  async serverState(backend: string, server: string): Promise<ServerState | null> {
    assertSafeWord('backend', backend);
    const answer = await this.send(`show servers state ${backend}`);
    if (/can't find backend/i.test(answer)) return null;
    const states = parseServersState(answer);
    if (states.length === 0 && answer.trim() !== '') throw new Error(`unexpected answer to "show servers state ${backend}": ${answer.trim().slice(0, 200)}`);
    return states.find((s) => s.backend === backend && s.server === server) ?? null;
  }

  /**
   * Points backend/server at the new master, cuts the sessions still open (they go to the old
   * master), makes it serve at once, then checks that HAProxy took it. Throws, naming the step, if
   * HAProxy refuses or reports something else (the caller then reloads).
   *
   * Three connections (liveSwitchCommands): each one costs a round trip through both schedulers,
   * and on a busy host that is milliseconds of outage per connection. The cut shares the first
   * connection with the address change and comes before the server is forced up: while the old
   * master is marked down no session to the new one exists yet, so the cut takes only old-master
   * sessions (cut after, it also took the first clients of the new master). Forcing the server up
   * waits for the address change's own answer: forced up at the old address, HAProxy would send
   * clients to the old master until the fallback reload.
   */
  async switchServer(backend: string, server: string, ip: string, port: number): Promise<ServerState> {
    assertSafeWord('backend', backend);
    assertSafeWord('server', server);
    assertSafeWord('address', ip);
    if (!isIP(ip)) throw new Error(`address ${ip} is not an IP literal; HAProxy's runtime API cannot set it`);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`port ${port} is not valid`);
    const srv = `${backend}/${server}`;
    const cmds = liveSwitchCommands(backend, server, ip, port);

    const [setAddr = '', ...afterAddr] = splitAnswers(await this.send(cmds.moveAndCut.join('; ')));
    // 2.6 answers "IP changed from ...", "no need to change the addr, port changed ..." or "no need to change ...".
    if (/permission denied/i.test(setAddr)) throw new Error(`set server ${srv} addr: Permission denied (the stats socket needs "level admin"; 2.6 defaults to operator)`);
    if (/no such (server|backend)/i.test(setAddr)) throw new Error(`${srv} does not exist in the running HAProxy (${setAddr})`);
    if (!/changed|no need to change/i.test(setAddr)) throw new Error(`set server ${srv} addr: ${setAddr || 'no answer'}`);
    const cut = afterAddr.join('\n').trim();
    if (cut !== '') throw new Error(`shutdown sessions server ${srv}: ${cut}`);

    // The old address may have been marked DOWN by health checks; don't wait for checks to rise.
    const enabled = (await this.send(cmds.enable.join('; '))).trim();
    if (enabled !== '') throw new Error(`${cmds.enable.join('; ')}: ${enabled}`);

    const state = parseServersState(await this.send(cmds.check)).find((s) => s.backend === backend && s.server === server) ?? null;
    if (!state) throw new Error(`${srv} disappeared from the running HAProxy`);
    if (canonicalIp(state.addr) !== canonicalIp(ip) || state.port !== port) {
      throw new Error(`${srv} still points at ${state.addr}:${state.port} after set server addr`);
    }
    if (state.opState !== 2 || (state.adminState & ADMIN_MAINT_MASK) !== 0) {
      throw new Error(`${srv} is not serving after the switch (op state ${state.opState}, admin state ${state.adminState})`);
    }
    return state;
  }

  /**
   * A read slot: point it at a replica and let it take new connections, or (ready false) take
   * none (maint). Sessions already open stay: a replica leaving the pool is not cut mid-read.
   */
  async setSlot(backend: string, server: string, ready: boolean, ip: string, port: number): Promise<void> {
    assertSafeWord('backend', backend);
    assertSafeWord('server', server);
    const srv = `${backend}/${server}`;
    if (!ready) {
      const answer = (await this.send(`set server ${srv} state maint`)).trim();
      if (answer !== '') throw new Error(`set server ${srv} state maint: ${answer}`);
      return;
    }
    assertSafeWord('address', ip);
    if (!isIP(ip)) throw new Error(`address ${ip} is not an IP literal; HAProxy's runtime API cannot set it`);
    const setAddr = (await this.send(`set server ${srv} addr ${ip} port ${port}`)).trim();
    if (/permission denied/i.test(setAddr)) throw new Error(`set server ${srv} addr: Permission denied (the stats socket needs "level admin")`);
    if (!/changed|no need to change/i.test(setAddr)) throw new Error(`set server ${srv} addr: ${setAddr || 'no answer'}`);
    const answer = (await this.send(`set server ${srv} state ready`)).trim();
    if (answer !== '') throw new Error(`set server ${srv} state ready: ${answer}`);
  }
}

/**
 * The runtime commands of one live switch, one entry per connection, in order (see
 * RuntimeClient.switchServer for why they are grouped so). Values must be checked safe words.
 */
export function liveSwitchCommands(backend: string, server: string, ip: string, port: number): { moveAndCut: string[]; enable: string[]; check: string } {
  const srv = `${backend}/${server}`;
  return {
    moveAndCut: [`set server ${srv} addr ${ip} port ${port}`, `shutdown sessions server ${srv}`],
    enable: [`set server ${srv} state ready`, `set server ${srv} health up`],
    check: `show servers state ${backend}`,
  };
}

/**
 * The answers to a `;`-separated command line, in order: HAProxy ends each answer with an empty
 * line. An empty answer is an empty string; the last one may be missing when it was empty.
 */
export function splitAnswers(text: string): string[] {
  return text.split('\n\n').map((a) => a.replace(/^\n+/, '').trim());
}
