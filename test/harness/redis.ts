import { mkdtempSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { Cleanup } from './cleanup.js';
import { Proc, type ManagedProcess } from './process.js';
import { waitFor, withFreePort } from './wait.js';

export const REDIS_SERVER = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((p) => existsSync(p)) ?? 'redis-server';

/**
 * Sentinel's down-after-milliseconds unless a test asks otherwise. 1000 ms makes Sentinel fail a
 * healthy just-promoted master over a second time in a fraction of runs (docs/reliability.md);
 * 1500 ms (the chaos suite's value) does not.
 */
export const DEFAULT_DOWN_AFTER_MS = 1500;

export interface RedisNode extends ManagedProcess {
  host: string;
  port: number;
  dir: string;
  /** A new ioredis client (no retries), closed on cleanup. */
  client(): Redis;
  role(): Promise<string>;
}

export type SentinelNode = RedisNode;

/** One command on a client of its own, closed after the answer (e.g. SENTINEL MASTER, REPLICAOF). */
export async function command(node: RedisNode, name: string, ...args: string[]): Promise<unknown> {
  const c = node.client();
  try {
    return await c.call(name, ...args);
  } finally {
    c.disconnect();
  }
}

/** TLS material for a TLS-only node (port 0, tls-port N). */
export interface TlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
}

function tlsConf(tls: TlsFiles | undefined, port: number): string[] {
  if (!tls) return [`port ${port}`];
  return ['port 0', `tls-port ${port}`, `tls-cert-file ${tls.certFile}`, `tls-key-file ${tls.keyFile}`, `tls-ca-cert-file ${tls.caFile}`, 'tls-auth-clients no', 'tls-replication yes'];
}

/** The server certificate doubles as the harness' client certificate, for nodes that require one (tls-auth-clients yes). */
function clientTls(tls: TlsFiles | undefined) {
  return tls ? { tls: { ca: readFileSync(tls.caFile), cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile), rejectUnauthorized: true, servername: 'localhost' } } : {};
}

function makeNode(cleanup: Cleanup, name: string, host: string, port: number, dir: string, args: string[], password: string | undefined, ready: (c: Redis) => Promise<boolean>, tls?: TlsFiles): { node: RedisNode; proc: Proc } {
  const clients: Redis[] = [];
  const newClient = () => {
    const c = new Redis({ host, port, password, ...clientTls(tls), lazyConnect: false, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: true, connectTimeout: 1000, commandTimeout: 2000 });
    c.on('error', () => {});
    clients.push(c);
    return c;
  };
  cleanup.add(() => clients.forEach((c) => c.disconnect()));
  const proc = new Proc(
    name,
    REDIS_SERVER,
    args,
    async () => {
      await waitFor(
        async () => {
          const c = new Redis({ host, port, password, ...clientTls(tls), lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 500, commandTimeout: 1000 });
          c.on('error', () => {});
          try {
            await c.connect();
            return await ready(c);
          } finally {
            c.disconnect();
          }
        },
        { timeoutMs: 10000, intervalMs: 30, what: `${name} to answer`, stopIf: () => (proc.running ? undefined : 'process exited') },
      );
    },
    cleanup,
  );
  const node: RedisNode = Object.assign(proc, {
    host,
    port,
    dir,
    client: newClient,
    role: async () => {
      const c = newClient();
      try {
        const r = (await c.call('ROLE')) as unknown[];
        return String(r[0]);
      } finally {
        c.disconnect();
      }
    },
  });
  return { node, proc };
}

export async function startRedis(
  cleanup: Cleanup,
  opts: { port?: number; host?: string; replicaOf?: { host: string; port: number }; password?: string; extraConf?: string[]; tls?: TlsFiles } = {},
): Promise<RedisNode> {
  const host = opts.host ?? '127.0.0.1';
  if (opts.port === undefined) return withFreePort(host, (port) => startRedis(cleanup, { ...opts, port }));
  const port = opts.port;
  const dir = mkdtempSync(join(tmpdir(), `rh-redis-${port}-`));
  const conf = [
    ...tlsConf(opts.tls, port),
    `bind ${host}`,
    'save ""',
    'appendonly no',
    `dir ${dir}`,
    'daemonize no',
    'protected-mode no',
    'logfile ""',
    'repl-diskless-sync yes',
    'repl-diskless-sync-delay 0',
    ...(opts.replicaOf ? [`replicaof ${opts.replicaOf.host} ${opts.replicaOf.port}`] : []),
    ...(opts.password ? [`requirepass ${opts.password}`, `masterauth ${opts.password}`] : []),
    ...(opts.extraConf ?? []),
  ];
  const confPath = join(dir, 'redis.conf');
  writeFileSync(confPath, `${conf.join('\n')}\n`);
  const { node, proc } = makeNode(cleanup, `redis:${port}`, host, port, dir, [confPath], opts.password, async (c) => (await c.ping()) === 'PONG', opts.tls);
  await proc.start();
  return node;
}

export async function startSentinel(
  cleanup: Cleanup,
  opts: {
    port?: number;
    host?: string;
    monitors: Array<{ name: string; host: string; port: number; quorum?: number; authPass?: string }>;
    downAfterMs?: number;
    failoverTimeoutMs?: number;
    requirePass?: string;
    extraConf?: string[];
    tls?: TlsFiles;
  },
): Promise<SentinelNode> {
  const host = opts.host ?? '127.0.0.1';
  if (opts.port === undefined) return withFreePort(host, (port) => startSentinel(cleanup, { ...opts, port }));
  const port = opts.port;
  const dir = mkdtempSync(join(tmpdir(), `rh-sentinel-${port}-`));
  const conf = [
    ...tlsConf(opts.tls, port),
    `bind ${host}`,
    `dir ${dir}`,
    'daemonize no',
    'protected-mode no',
    'logfile ""',
    'sentinel resolve-hostnames yes',
    ...(opts.requirePass ? [`requirepass ${opts.requirePass}`] : []),
  ];
  for (const m of opts.monitors) {
    conf.push(
      `sentinel monitor ${m.name} ${m.host} ${m.port} ${m.quorum ?? 2}`,
      `sentinel down-after-milliseconds ${m.name} ${opts.downAfterMs ?? DEFAULT_DOWN_AFTER_MS}`,
      `sentinel failover-timeout ${m.name} ${opts.failoverTimeoutMs ?? 3000}`,
      `sentinel parallel-syncs ${m.name} 1`,
      ...(m.authPass ? [`sentinel auth-pass ${m.name} ${m.authPass}`] : []),
    );
  }
  conf.push(...(opts.extraConf ?? []));
  const confPath = join(dir, 'sentinel.conf');
  writeFileSync(confPath, `${conf.join('\n')}\n`);
  const names = opts.monitors.map((m) => m.name);
  const { node, proc } = makeNode(cleanup, `sentinel:${port}`, host, port, dir, [confPath, '--sentinel'], opts.requirePass, async (c) => {
    const masters = (await c.call('SENTINEL', 'MASTERS')) as string[][];
    const known = masters.map((m) => m[m.indexOf('name') + 1]);
    return names.every((n) => known.includes(n));
  }, opts.tls);
  await proc.start();
  return node;
}
