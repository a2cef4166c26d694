import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { waitFor, type Cleanup } from '../harness/index.js';
import type { DaemonProcess } from './daemon-process.js';

/** Lines in the reload log written by prepareHaproxy's ReloadCommand. */
export const reloadCount = (path: string): number => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).length : 0);

/** A redishappy JSON config as the tests edit it (loosely typed on purpose). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type LooseConfig = Record<string, any>;

/** Read a JSON config file, change it, write it back. */
export function editJson(path: string, edit: (cfg: LooseConfig) => void): void {
  const cfg = JSON.parse(readFileSync(path, 'utf8')) as LooseConfig;
  edit(cfg);
  writeFileSync(path, JSON.stringify(cfg));
}

/** Log lines (parsed JSON) whose msg starts with the given text. */
export function logged(d: DaemonProcess, msgStart: string): Array<Record<string, unknown>> {
  return d.logs().filter((l) => typeof l.msg === 'string' && l.msg.startsWith(msgStart));
}

/** Is anything accepting TCP connections on 127.0.0.1:port? */
export function accepts(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** A unix socket server that accepts connections and never answers (a hung HAProxy runtime API). */
export async function silentSocket(cleanup: Cleanup, path: string): Promise<{ connections: () => number }> {
  let count = 0;
  const held: net.Socket[] = [];
  const server = net.createServer((s) => {
    count++;
    held.push(s);
    s.on('error', () => {});
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(path, () => resolve()));
  cleanup.add(() => new Promise<void>((resolve) => {
    for (const s of held) s.destroy();
    server.close(() => resolve());
  }));
  return { connections: () => count };
}

/** GET over a unix-socket HTTP server. */
export function getUnix(socketPath: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath, path, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/**
 * A unix datagram syslog receiver (what /dev/log is). Node cannot bind unix datagram sockets, so
 * perl (perl-base is Essential in Debian) holds the socket and prints each datagram on a line.
 */
export async function unixSyslogReceiver(cleanup: Cleanup, path: string): Promise<{ messages: () => string[]; stop: () => Promise<void> }> {
  const script = '$s=IO::Socket::UNIX->new(Type=>SOCK_DGRAM, Local=>$ARGV[0]) or die "bind: $!"; $|=1; print "ready\\n"; while (defined $s->recv($b, 65536)) { $b =~ s/\\n/ /g; print "$b\\n" }';
  const child = spawn('perl', ['-MIO::Socket::UNIX', '-MSocket', '-e', script, path], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const stop = () => new Promise<void>((r) => (child.exitCode !== null || child.signalCode !== null ? r() : (child.once('exit', () => r()), child.kill('SIGKILL'))));
  cleanup.add(stop);
  await waitFor(() => {
    if (child.exitCode !== null) throw new Error(`syslog receiver exited: ${err}`);
    return out.startsWith('ready\n');
  }, { timeoutMs: 5000, what: 'unix syslog receiver bound' });
  return { messages: () => out.split('\n').slice(1).filter(Boolean), stop };
}

/** A TCP syslog receiver (one message per line). */
export async function tcpSyslogReceiver(cleanup: Cleanup): Promise<{ port: number; messages: () => string[] }> {
  let out = '';
  const sockets: net.Socket[] = [];
  const server = net.createServer((s) => {
    sockets.push(s);
    s.on('data', (d: Buffer) => (out += d.toString()));
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  cleanup.add(() => new Promise<void>((r) => (sockets.forEach((s) => s.destroy()), server.close(() => r()))));
  return { port: (server.address() as net.AddressInfo).port, messages: () => out.split('\n').filter(Boolean) };
}
