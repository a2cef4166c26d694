/**
 * STAND-IN sentinel for bad-input tests: a tiny RESP server that speaks just enough of the
 * Sentinel protocol (SUBSCRIBE, SENTINEL MASTERS/MASTER/SENTINELS, PING) to be watched, and then
 * misbehaves on purpose according to `mode`. Real sentinels cannot be made to do this.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export type StandInMode =
  | 'placeholder' // reports the master at 0.0.0.0:0 with a huge epoch
  | 'liar' // reports the master at `liarAddress` with a huge epoch (e.g. a replica)
  | 'malformed' // SENTINEL MASTERS answers with nonsense of the wrong shape
  | 'wrongtype' // answers every command with an integer
  | 'truncated' // answers half a reply and closes
  | 'oversized' // answers a 4 MB bulk string
  | 'slow' // never answers
  | 'reset'; // resets every connection at once

const bulk = (s: string) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
const array = (items: string[]) => `*${items.length}\r\n${items.join('')}`;
const record = (fields: Record<string, string>) => array(Object.entries(fields).flatMap(([k, v]) => [bulk(k), bulk(v)]));

export class StandInSentinel {
  mode: StandInMode = 'placeholder';
  liarAddress = { ip: '127.0.0.1', port: 1 };
  connections = 0;
  private server: net.Server;
  private sockets = new Set<net.Socket>();
  port = 0;

  constructor(private readonly masterName: string) {
    this.server = net.createServer((s) => this.serve(s));
  }

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** Drop every connection so the daemon reconnects and meets the new mode. */
  kick(): void {
    for (const s of this.sockets) s.destroy();
  }

  private masterFields(): Record<string, string> {
    const addr = this.mode === 'liar' ? this.liarAddress : { ip: '0.0.0.0', port: 0 };
    return { name: this.masterName, ip: addr.ip, port: String(addr.port), flags: 'master', 'config-epoch': '999', 'num-slaves': '1', 'num-other-sentinels': '0', quorum: '1' };
  }

  private serve(socket: net.Socket): void {
    this.connections++;
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
    if (this.mode === 'reset') {
      socket.resetAndDestroy();
      return;
    }
    let buffer = '';
    socket.on('data', (d) => {
      buffer += d.toString('latin1');
      for (;;) {
        const parsed = parseCommand(buffer);
        if (!parsed) return;
        buffer = buffer.slice(parsed.length);
        this.answer(socket, parsed.args);
      }
    });
  }

  private answer(socket: net.Socket, args: string[]): void {
    const cmd = args.map((a) => a.toUpperCase());
    const mode = this.mode;
    if (mode === 'slow') return;
    if (mode === 'wrongtype') return void socket.write(':42\r\n');
    if (cmd[0] === 'SUBSCRIBE') {
      args.slice(1).forEach((ch, i) => socket.write(array([bulk('subscribe'), bulk(ch), `:${i + 1}\r\n`])));
      return;
    }
    if (cmd[0] === 'PING') return void socket.write('+PONG\r\n');
    if (cmd[0] === 'SENTINEL' && cmd[1] === 'MASTERS') {
      if (mode === 'malformed') return void socket.write(array([bulk('name'), array([':1\r\n']), '+OK\r\n']));
      if (mode === 'truncated') {
        socket.write('*1\r\n*10\r\n$4\r\nname\r\n$7\r\ntest');
        socket.end();
        return;
      }
      if (mode === 'oversized') return void socket.write(array([bulk('x'.repeat(4 * 1024 * 1024))]));
      return void socket.write(array([record(this.masterFields())]));
    }
    if (cmd[0] === 'SENTINEL' && cmd[1] === 'MASTER') return void socket.write(record(this.masterFields()));
    if (cmd[0] === 'SENTINEL' && cmd[1] === 'SENTINELS') return void socket.write('*0\r\n');
    socket.write(`-ERR unknown command '${args[0] ?? ''}'\r\n`);
  }
}

/** Parse one RESP array of bulk strings (what clients send); null if incomplete. */
export function parseCommand(buf: string): { args: string[]; length: number } | null {
  if (!buf.startsWith('*')) {
    const nl = buf.indexOf('\r\n');
    return nl < 0 ? null : { args: buf.slice(0, nl).split(' '), length: nl + 2 };
  }
  let i = buf.indexOf('\r\n');
  if (i < 0) return null;
  const n = Number(buf.slice(1, i));
  i += 2;
  const args: string[] = [];
  for (let k = 0; k < n; k++) {
    const nl = buf.indexOf('\r\n', i);
    if (nl < 0) return null;
    const len = Number(buf.slice(i + 1, nl));
    const start = nl + 2;
    if (buf.length < start + len + 2) return null;
    args.push(buf.slice(start, start + len));
    i = start + len + 2;
  }
  return { args, length: i };
}
