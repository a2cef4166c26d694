/**
 * STAND-IN sentinel for bad-input tests: a tiny RESP server that speaks just enough of the
 * Sentinel protocol (SUBSCRIBE, SENTINEL MASTERS/MASTER/SENTINELS, PING) to be watched, and then
 * misbehaves on purpose according to `mode`. Real sentinels cannot be made to do this.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export type StandInMode =
  | 'honest' // reports `view` correctly (use with a real cluster's master)
  | 'placeholder' // reports the master at 0.0.0.0:0 with a huge epoch
  | 'liar' // reports the master at `liarAddress` with `liarEpoch` (default 999)
  | 'malformed' // SENTINEL MASTERS answers with nonsense of the wrong shape
  | 'badfields' // SENTINEL MASTERS answers records with impossible values (port "abc", epoch "-1", no name)
  | 'wrongtype' // answers every command with an integer (even SUBSCRIBE)
  | 'truncated' // answers half a reply and closes
  | 'oversized' // answers a 4 MB bulk string
  | 'hugearray' // answers 20,000 records of garbage
  | 'slow' // answers correctly (like honest), but `slowMs` late
  | 'hang' // never answers
  | 'reset' // resets every connection at once
  | 'badpub'; // answers like honest, and publishes bursts of malformed and lying +switch-master messages

const bulk = (s: string) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
const array = (items: string[]) => `*${items.length}\r\n${items.join('')}`;
const record = (fields: Record<string, string>) => array(Object.entries(fields).flatMap(([k, v]) => [bulk(k), bulk(v)]));
const push = (channel: string, payload: string) => array([bulk('message'), bulk(channel), bulk(payload)]);

export class StandInSentinel {
  mode: StandInMode = 'placeholder';
  /** What an honest answer names (set it to the real master). */
  view = { ip: '127.0.0.1', port: 6379, epoch: 0 };
  liarAddress = { ip: '127.0.0.1', port: 1 };
  liarEpoch = '999';
  slowMs = 1500;
  /** How many +switch-master messages one badpub burst sends. */
  burst = 200;
  connections = 0;
  commands = 0;
  private subscribers = new Set<net.Socket>();
  /** Send one more badpub burst to every subscribed connection now. */
  burstAgain(): void {
    for (const s of this.subscribers) this.publishBurst(s);
  }
  /** SENTINEL MASTER <name> queries received. */
  masterQueries = 0;
  published = 0;
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

  /** The payloads of one badpub burst: malformed, placeholder, lying and unknown-cluster switches. */
  badPayloads(): string[] {
    const n = this.masterName;
    const { ip, port } = this.view;
    return [
      'garbage',
      '',
      `${n}`,
      `${n} ${ip} ${port} 0.0.0.0 0`,
      `${n} ${ip} ${port} :: 0`,
      `${n} ${ip} ${port} ${this.liarAddress.ip} ${this.liarAddress.port}`,
      `${n} ${ip} ${port} 127.0.0.1 99999`,
      `${n} ${ip} ${port} 127.0.0.1 -1`,
      `${n} a b c d`,
      `unknown-cluster 10.0.0.1 1 10.0.0.2 2`,
      `${n} ${ip} ${port} ${'9'.repeat(300)} 6379`,
      'x'.repeat(64 * 1024),
    ];
  }

  private masterFields(): Record<string, string> {
    const base = { name: this.masterName, flags: 'master', 'num-slaves': '1', 'num-other-sentinels': '0', quorum: '1' };
    if (this.mode === 'liar') return { ...base, ip: this.liarAddress.ip, port: String(this.liarAddress.port), 'config-epoch': this.liarEpoch };
    if (this.mode === 'placeholder') return { ...base, ip: '0.0.0.0', port: '0', 'config-epoch': '999' };
    return { ...base, ip: this.view.ip, port: String(this.view.port), 'config-epoch': String(this.view.epoch) };
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
        this.commands++;
        const mode = this.mode;
        if (mode === 'slow') setTimeout(() => !socket.destroyed && this.answer(socket, parsed.args, mode), this.slowMs);
        else this.answer(socket, parsed.args, mode);
      }
    });
  }

  private answer(socket: net.Socket, args: string[], mode: StandInMode): void {
    const cmd = args.map((a) => a.toUpperCase());
    if (mode === 'hang') return;
    if (mode === 'wrongtype') return void socket.write(':42\r\n');
    if (cmd[0] === 'SUBSCRIBE') {
      args.slice(1).forEach((ch, i) => socket.write(array([bulk('subscribe'), bulk(ch), `:${i + 1}\r\n`])));
      // One burst per subscribed connection, however many SUBSCRIBE commands it sends.
      const first = !this.subscribers.has(socket);
      this.subscribers.add(socket);
      socket.on('close', () => this.subscribers.delete(socket));
      if (mode === 'badpub' && first) this.publishBurst(socket);
      return;
    }
    if (cmd[0] === 'PING') return void socket.write('+PONG\r\n');
    if (cmd[0] === 'SENTINEL' && cmd[1] === 'MASTERS') {
      if (mode === 'malformed') return void socket.write(array([bulk('name'), array([':1\r\n']), '+OK\r\n']));
      if (mode === 'badfields') return void socket.write(array([record({ name: this.masterName, ip: '127.0.0.1', port: 'abc', 'config-epoch': '-1' }), record({ ip: '127.0.0.1', port: '6379' })]));
      if (mode === 'truncated') {
        socket.write('*1\r\n*10\r\n$4\r\nname\r\n$7\r\ntest');
        socket.end();
        return;
      }
      if (mode === 'oversized') return void socket.write(array([bulk('x'.repeat(4 * 1024 * 1024))]));
      if (mode === 'hugearray') return void socket.write(array(Array.from({ length: 20000 }, (_, i) => record({ name: `junk-${i}`, ip: 'x', port: String(i % 70000), 'config-epoch': 'NaN' }))));
      return void socket.write(array([record(this.masterFields())]));
    }
    if (cmd[0] === 'SENTINEL' && cmd[1] === 'MASTER') {
      this.masterQueries++;
      return void socket.write(record(this.masterFields()));
    }
    if (cmd[0] === 'SENTINEL' && cmd[1] === 'SENTINELS') return void socket.write('*0\r\n');
    socket.write(`-ERR unknown command '${args[0] ?? ''}'\r\n`);
  }

  /** Bursts of bad +switch-master (and other event) messages on a subscribed connection, then one of the wrong shape. */
  private publishBurst(socket: net.Socket): void {
    const payloads = this.badPayloads();
    const out: string[] = [];
    for (let i = 0; i < this.burst; i++) out.push(push('+switch-master', payloads[i % payloads.length]!));
    out.push(push('+odown', 'master garbage'), push('+config-update-from-sentinel', '@'), push('+failover-end', `master ${this.masterName} 1.2.3.4 0`));
    this.published += this.burst;
    socket.write(out.join(''));
    // A push of the wrong shape: an integer where the payload should be.
    setTimeout(() => !socket.destroyed && socket.write(array([bulk('message'), bulk('+switch-master'), ':7\r\n'])), 200);
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
