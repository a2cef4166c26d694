/**
 * STAND-IN sentinel for the 1,000-cluster benchmark (real Redis cannot run 2,000 instances here):
 * a RESP server that reports N masters, answers SENTINEL MASTERS / MASTER / SENTINELS / REPLICAS /
 * GET-MASTER-ADDR-BY-NAME, accepts
 * SUBSCRIBE, and can switch any subset of masters (new address, epoch + 1, +switch-master
 * published). Paired with a stand-in "Redis" that answers ROLE as master on any port it listens on.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { parseCommand as parse } from '../test/support/stand-in-sentinel.js';

const bulk = (s: string) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
const arr = (items: string[]) => `*${items.length}\r\n${items.join('')}`;

interface Master {
  name: string;
  ip: string;
  port: number;
  epoch: number;
}

export class ManyMastersSentinel {
  readonly masters = new Map<string, Master>();
  private subscribers = new Set<net.Socket>();
  private server = net.createServer((s) => this.serve(s));
  port = 0;

  constructor(names: string[], port: number) {
    // Each master on its own loopback address (127.0.x.y, all served by one roleMasterServer): the
    // original drops an event whose new address equals the previous event's, whatever the cluster.
    names.forEach((name, i) => this.masters.set(name, { name, ip: `127.0.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`, port, epoch: 0 }));
  }

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  private sockets = new Set<net.Socket>();

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  switchAll(names: string[], port: number): void {
    for (const name of names) {
      const m = this.masters.get(name)!;
      const old = m.port;
      m.port = port;
      m.epoch++;
      const payload = `${name} ${m.ip} ${old} ${m.ip} ${port}`;
      for (const s of this.subscribers) s.write(arr([bulk('message'), bulk('+switch-master'), bulk(payload)]));
    }
  }

  /** INFO sentinel as a real sentinel writes it: one line per master with its address and status. */
  private info(): string {
    const lines = ['# Sentinel', `sentinel_masters:${this.masters.size}`, 'sentinel_tilt:0', 'sentinel_tilt_since_seconds:-1', 'sentinel_running_scripts:0', 'sentinel_scripts_queue_length:0', 'sentinel_simulate_failure_flags:0'];
    [...this.masters.values()].forEach((m, i) => lines.push(`master${i}:name=${m.name},status=ok,address=${m.ip}:${m.port},slaves=0,sentinels=1`));
    return `${lines.join('\r\n')}\r\n`;
  }

  private record(m: Master): string {
    return arr([bulk('name'), bulk(m.name), bulk('ip'), bulk(m.ip), bulk('port'), bulk(String(m.port)), bulk('flags'), bulk('master'), bulk('config-epoch'), bulk(String(m.epoch))]);
  }

  private serve(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => {
      this.subscribers.delete(socket);
      this.sockets.delete(socket);
    });
    let buffer = '';
    socket.on('data', (d) => {
      buffer += d.toString('latin1');
      for (;;) {
        const p = parse(buffer);
        if (!p) return;
        buffer = buffer.slice(p.length);
        const [cmd, sub, name] = [p.args[0]?.toUpperCase(), p.args[1]?.toUpperCase(), p.args[2]];
        if (cmd === 'SUBSCRIBE') {
          this.subscribers.add(socket);
          p.args.slice(1).forEach((ch, i) => socket.write(arr([bulk('subscribe'), bulk(ch), `:${i + 1}\r\n`])));
        } else if (cmd === 'PING') socket.write('+PONG\r\n');
        else if (cmd === 'SENTINEL' && sub === 'MASTERS') socket.write(`*${this.masters.size}\r\n${[...this.masters.values()].map((m) => this.record(m)).join('')}`);
        else if (cmd === 'SENTINEL' && sub === 'MASTER') {
          const m = this.masters.get(name ?? '');
          socket.write(m ? this.record(m) : '-ERR No such master with that name\r\n');
        } else if (cmd === 'SENTINEL' && sub === 'GET-MASTER-ADDR-BY-NAME') {
          // What the original redishappy asks (one per cluster, on each SUBSCRIBE confirmation).
          const m = this.masters.get(name ?? '');
          socket.write(m ? arr([bulk(m.ip), bulk(String(m.port))]) : '*-1\r\n');
        } else if (cmd === 'SENTINEL' && (sub === 'SENTINELS' || sub === 'REPLICAS' || sub === 'SLAVES')) {
          // No peers and no replicas: an empty list, as a real sentinel answers for such a master
          // (an error here would cost the daemon a ReplyError per cluster per discovery round).
          socket.write(this.masters.has(name ?? '') ? '*0\r\n' : '-ERR No such master with that name\r\n');
        } else if (cmd === 'INFO' && sub === 'SENTINEL') socket.write(bulk(this.info()));
        else socket.write('-ERR unknown command\r\n');
      }
    });
  }
}

/** Answers ROLE with master (and PING) on every connection: enough for the daemon's ROLE probe. */
export async function roleMasterServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buffer = '';
    socket.on('data', (d) => {
      buffer += d.toString('latin1');
      for (;;) {
        const p = parse(buffer);
        if (!p) return;
        buffer = buffer.slice(p.length);
        const cmd = p.args[0]?.toUpperCase();
        if (cmd === 'ROLE') socket.write(arr([bulk('master'), ':0\r\n', '*0\r\n']));
        else if (cmd === 'PING') socket.write('+PONG\r\n');
        else socket.write('+OK\r\n');
      }
    });
  });
  // Every address: the masters are 127.0.x.y (loopback); the bench machine has loopback networking only.
  await new Promise<void>((r) => server.listen(0, '0.0.0.0', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
