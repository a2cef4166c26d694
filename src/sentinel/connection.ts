import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { Redis, type RedisOptions } from 'ioredis';
import DataHandlerModule from 'ioredis/built/DataHandler.js';

/**
 * ioredis parses replies inside the socket's data handler; a reply of an unexpected shape (e.g. an
 * integer answering SUBSCRIBE, as a broken or hostile sentinel may send) throws there and would
 * crash the process. Turn such a throw into a failed connection, which the watcher handles.
 */
// Node's CJS interop gives { default: class }; bundlers give the class itself.
const handler = ((DataHandlerModule as unknown as { default?: unknown }).default ?? DataHandlerModule) as unknown as { prototype: { returnReply(reply: unknown): void; __redishappyGuard?: boolean } };
if (!handler.prototype.__redishappyGuard) {
  const original = handler.prototype.returnReply;
  handler.prototype.returnReply = function guarded(this: { redis?: { stream?: { destroy(err?: Error): void } } }, reply: unknown): void {
    try {
      original.call(this, reply);
    } catch (err) {
      this.redis?.stream?.destroy(new Error(`unexpected reply from server: ${(err as Error).message}`));
    }
  };
  handler.prototype.__redishappyGuard = true;
}
import type { TlsConfig } from '../config/schema.js';

export interface Credentials {
  username?: string | undefined;
  password?: string | undefined;
}

export interface ConnectSettings {
  credentials: Credentials;
  tls?: TlsConfig | undefined;
  timeoutMs: number;
  keepAliveSeconds: number;
}

/** Read the TLS files once per settings object so reconnects do not hit the disk. */
export function tlsOptions(tls: TlsConfig | undefined): ConnectionOptions | undefined {
  if (!tls) return undefined;
  return {
    ca: tls.CaFile ? readFileSync(tls.CaFile) : undefined,
    cert: tls.CertFile ? readFileSync(tls.CertFile) : undefined,
    key: tls.KeyFile ? readFileSync(tls.KeyFile) : undefined,
    servername: tls.ServerName,
    rejectUnauthorized: tls.RejectUnauthorized,
  };
}

/**
 * A connection with no automatic behaviour: no reconnects, no offline queue, no ready check.
 * The watcher owns retries and health so that state changes are explicit and logged once.
 */
export function openConnection(host: string, port: number, settings: ConnectSettings, tls: ConnectionOptions | undefined): Redis {
  const options: RedisOptions = {
    host,
    port,
    username: settings.credentials.username,
    password: settings.credentials.password,
    tls,
    lazyConnect: true,
    enableReadyCheck: false,
    enableOfflineQueue: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    autoResubscribe: false,
    autoResendUnfulfilledCommands: false,
    connectTimeout: settings.timeoutMs,
    commandTimeout: settings.timeoutMs,
    keepAlive: settings.keepAliveSeconds > 0 ? settings.keepAliveSeconds * 1000 : 0,
    noDelay: true,
    family: host.includes(':') ? 6 : 0,
  };
  const redis = new Redis(options);
  // Errors are reported through the promises of the calls that failed; avoid "unhandled error"
  // noise. The last one is kept: a refused AUTH (WRONGPASS) comes only as an event, before the
  // connection closes, and it is the reason an operator needs to see.
  redis.on('error', (err: Error) => lastErrors.set(redis, err.message));
  // ioredis drops its socket listeners on disconnect(); a TLS alert that arrives after that (a
  // certificate the peer rejects) would be an uncaught exception and kill the daemon.
  const disconnect = redis.disconnect.bind(redis);
  redis.disconnect = (reconnect?: boolean) => {
    (redis as unknown as { stream?: NodeJS.EventEmitter }).stream?.on('error', () => {});
    disconnect(reconnect);
  };
  return redis;
}

const lastErrors = new WeakMap<Redis, string>();

/** The last error a connection reported by event (e.g. a refused AUTH), if any. */
export function lastConnectionError(redis: Redis): string | undefined {
  return lastErrors.get(redis);
}

/** Connect, bounded by the timeout even when the peer accepts TCP but never answers. */
export async function connectWithin(redis: Redis, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.connect(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`connect timed out after ${timeoutMs}ms`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    // ioredis rejects with "Connection is closed."; the reason (a TLS or AUTH error) came as an event.
    const why = lastConnectionError(redis);
    throw why && !(err as Error).message.includes(why) ? new Error(`${(err as Error).message.replace(/\.$/, '')}: ${why}`) : err;
  } finally {
    clearTimeout(timer);
  }
}

/** ROLE probe: does the instance itself say it is a master right now? */
export interface ProbeResult {
  ok: boolean;
  role: string;
  error?: string;
}

export async function probeRole(host: string, port: number, settings: ConnectSettings, tls: ConnectionOptions | undefined): Promise<ProbeResult> {
  const redis = openConnection(host, port, settings, tls);
  try {
    await connectWithin(redis, settings.timeoutMs);
    const reply = (await redis.call('ROLE')) as unknown;
    const role = Array.isArray(reply) && (typeof reply[0] === 'string' || Buffer.isBuffer(reply[0])) ? String(reply[0]) : 'unknown';
    return { ok: role === 'master', role };
  } catch (err) {
    return { ok: false, role: 'unreachable', error: (err as Error).message };
  } finally {
    redis.disconnect();
  }
}
