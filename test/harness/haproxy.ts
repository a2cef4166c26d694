import { existsSync, mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { Cleanup } from './cleanup.js';
import { Proc, type ManagedProcess } from './process.js';
import { waitFor } from './wait.js';

export const HAPROXY = ['/usr/sbin/haproxy', '/usr/local/sbin/haproxy', '/usr/bin/haproxy'].find((p) => existsSync(p)) ?? 'haproxy';

/**
 * Send one command to an HAProxy CLI socket (stats/admin or master). HAProxy 2.6 answers only
 * after the client half-closes, so the command is sent with end(), then read until close.
 */
export function haproxyCli(socket: string, command: string, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const hp = /^(.*):(\d+)$/.exec(socket);
    const conn = socket.startsWith('/') || !hp ? net.connect(socket) : net.connect(Number(hp[2]), hp[1]!.replace(/^\[|\]$/g, ''));
    let out = '';
    const timer = setTimeout(() => {
      conn.destroy();
      reject(new Error(`haproxy CLI ${command}: timed out`));
    }, timeoutMs);
    conn.on('connect', () => conn.end(`${command}\n`));
    conn.on('data', (d) => (out += d.toString()));
    conn.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    conn.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

export interface HaproxyProcess extends ManagedProcess {
  configPath: string;
  masterSocket?: string;
  reloadViaMaster(): Promise<void>;
}

function workerPids(showProc: string): string[] {
  return showProc
    .split('\n')
    .filter((l) => /\bworker\b/.test(l))
    .map((l) => l.trim().split(/\s+/)[0]!);
}

/** HAProxy in the foreground (master-worker mode by default: -W -S <master socket>). */
export async function startHaproxy(cleanup: Cleanup, opts: { configPath: string; masterWorker?: boolean; waitForPort?: number }): Promise<HaproxyProcess> {
  const masterWorker = opts.masterWorker ?? true;
  const dir = mkdtempSync(join(tmpdir(), 'rh-haproxy-'));
  const masterSocket = masterWorker ? join(dir, 'master.sock') : undefined;
  const args = masterWorker ? ['-W', '-S', masterSocket!, '-f', opts.configPath] : ['-db', '-f', opts.configPath];
  const proc: Proc = new Proc(
    'haproxy',
    HAPROXY,
    args,
    async () => {
      await waitFor(
        async () => {
          if (masterSocket) return workerPids(await haproxyCli(masterSocket, 'show proc')).length > 0;
          if (opts.waitForPort) return canConnect(opts.waitForPort);
          return true;
        },
        { timeoutMs: 10000, what: 'haproxy to start', stopIf: () => (proc.running ? undefined : 'haproxy exited') },
      );
    },
    cleanup,
  );
  await proc.start();
  return Object.assign(proc, {
    configPath: opts.configPath,
    masterSocket,
    async reloadViaMaster() {
      if (!masterSocket) throw new Error('not in master-worker mode');
      const before = workerPids(await haproxyCli(masterSocket, 'show proc'));
      await haproxyCli(masterSocket, 'reload');
      await waitFor(async () => workerPids(await haproxyCli(masterSocket, 'show proc')).some((p) => !before.includes(p)), { timeoutMs: 10000, what: 'a new haproxy worker' });
    },
  });
}

function canConnect(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, host);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Open a new connection to port and report which Redis node answered (its tcp_port). */
export async function connectThrough(port: number, host = '127.0.0.1'): Promise<{ port: number; client: Redis }> {
  const client = new Redis({ host, port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000, commandTimeout: 1000, enableReadyCheck: false });
  client.on('error', () => {});
  try {
    await client.connect();
    const info = await client.info('server');
    const m = /^tcp_port:(\d+)/m.exec(info);
    if (!m) throw new Error('no tcp_port in INFO server');
    return { port: Number(m[1]), client };
  } catch (err) {
    client.disconnect();
    throw err;
  }
}

/** Port of the Redis node a new connection to `port` reaches (connection closed after). */
export async function routedTo(port: number, host = '127.0.0.1'): Promise<number> {
  const { port: nodePort, client } = await connectThrough(port, host);
  client.disconnect();
  return nodePort;
}
