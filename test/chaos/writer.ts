import { Redis } from 'ioredis';

/** One acknowledged write: which node acknowledged it (learned on that connection) and when. */
export interface Ack {
  key: string;
  /** tcp_port of the Redis node behind the connection (INFO server when it was opened). */
  node: number;
  /** When the acknowledgement arrived. */
  at: number;
  /** When the write was sent. */
  sentAt: number;
  worker: string;
  /** When the connection carrying the write was opened. */
  connOpenedAt: number;
}

/** A write that was sent and not acknowledged (error, timeout, connection cut). */
export interface Failure {
  key: string;
  node: number;
  sentAt: number;
  failedAt: number;
  worker: string;
  connOpenedAt: number;
  error: string;
}

export interface WriterStats {
  acked: number;
  failed: number;
  /** Connection attempts that failed before a write could be sent. */
  connectErrors: number;
  connections: number;
  ackedByNode: Record<string, number>;
  lastError: string;
}

export interface WriterOptions {
  /** Long-lived connections: kept until they break, 500 ms command timeout. Default 4. */
  longLived?: number;
  /** Loops opening a new connection for every write. Default 1. */
  shortLived?: number;
  /**
   * Long-lived connections without a command timeout: a write stuck on a paused master stays in
   * flight until the node answers or the connection is cut, like a client with a generous
   * timeout. They are what shows whether old sessions are cut at the switch. Default 0.
   */
  patient?: number;
  /** Pause between two writes of one worker. Default 2 ms. */
  pauseMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function connect(port: number, commandTimeout: number | undefined): Redis {
  const c = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
    connectTimeout: 500,
    commandTimeout,
    enableReadyCheck: false,
    autoResendUnfulfilledCommands: false,
  });
  c.on('error', () => {});
  return c;
}

/** The node behind a connection: HAProxy in TCP mode pins a session to one server. */
export async function nodeOf(c: Redis): Promise<number> {
  const m = /^tcp_port:(\d+)/m.exec(await c.info('server'));
  if (!m) throw new Error('no tcp_port in INFO server');
  return Number(m[1]);
}

/**
 * Clients writing continuously through HAProxy's external port, as applications would: long-lived
 * connections (kept until they break), patient long-lived connections (no command timeout) and
 * loops opening a new connection per write. Every write is `SET chaos:<scenario>:<worker>:<seq>
 * <ts>`; every acknowledged write is recorded with the node that acknowledged it.
 */
export class WriterPool {
  readonly acks: Ack[] = [];
  readonly failures: Failure[] = [];
  connectErrors = 0;
  connections = 0;
  lastError = '';
  private running = true;
  private readonly loops: Promise<void>[] = [];
  private readonly open = new Set<Redis>();
  private seq = 0;

  constructor(
    private readonly port: number,
    private readonly scenario: string,
    opts: WriterOptions = {},
  ) {
    const pause = opts.pauseMs ?? 2;
    for (let i = 0; i < (opts.longLived ?? 4); i++) this.loops.push(this.longLived(`L${i}`, 500, pause));
    for (let i = 0; i < (opts.patient ?? 0); i++) this.loops.push(this.longLived(`P${i}`, undefined, pause));
    for (let i = 0; i < (opts.shortLived ?? 1); i++) this.loops.push(this.shortLived(`S${i}`, pause));
  }

  get acked(): number {
    return this.acks.length;
  }

  private key(worker: string): string {
    return `chaos:${this.scenario}:${worker}:${this.seq++}`;
  }

  /** Open a connection and learn its node; null (after a short delay) when that fails. */
  private async open1(commandTimeout: number | undefined): Promise<{ c: Redis; node: number; openedAt: number } | null> {
    const c = connect(this.port, commandTimeout ?? 2000);
    this.open.add(c);
    try {
      const openedAt = Date.now();
      await c.connect();
      const node = await nodeOf(c);
      // The INFO above is bounded even for patient connections; their writes are not.
      if (commandTimeout === undefined) (c.options as { commandTimeout?: number }).commandTimeout = undefined;
      this.connections++;
      return { c, node, openedAt };
    } catch (err) {
      this.connectErrors++;
      this.lastError = (err as Error).message;
      this.open.delete(c);
      c.disconnect();
      await sleep(20);
      return null;
    }
  }

  private async write(c: Redis, node: number, worker: string, connOpenedAt: number): Promise<boolean> {
    const key = this.key(worker);
    const sentAt = Date.now();
    try {
      await c.set(key, String(sentAt));
      this.acks.push({ key, node, at: Date.now(), sentAt, worker, connOpenedAt });
      return true;
    } catch (err) {
      this.lastError = (err as Error).message;
      this.failures.push({ key, node, sentAt, failedAt: Date.now(), worker, connOpenedAt, error: this.lastError });
      return false;
    }
  }

  private async longLived(worker: string, commandTimeout: number | undefined, pause: number): Promise<void> {
    while (this.running) {
      const conn = await this.open1(commandTimeout);
      if (!conn) continue;
      try {
        while (this.running && (await this.write(conn.c, conn.node, worker, conn.openedAt))) await sleep(pause);
      } finally {
        this.open.delete(conn.c);
        conn.c.disconnect();
      }
      if (this.running) await sleep(20);
    }
  }

  private async shortLived(worker: string, pause: number): Promise<void> {
    while (this.running) {
      const conn = await this.open1(500);
      if (!conn) continue;
      try {
        await this.write(conn.c, conn.node, worker, conn.openedAt);
      } finally {
        this.open.delete(conn.c);
        conn.c.disconnect();
      }
      await sleep(pause);
    }
  }

  stats(): WriterStats {
    const ackedByNode: Record<string, number> = {};
    for (const a of this.acks) ackedByNode[a.node] = (ackedByNode[a.node] ?? 0) + 1;
    return { acked: this.acks.length, failed: this.failures.length, connectErrors: this.connectErrors, connections: this.connections, ackedByNode, lastError: this.lastError };
  }

  /** Stop writing; writes still in flight (a patient one on a paused node) are abandoned. */
  async stop(): Promise<WriterStats> {
    if (this.running) {
      this.running = false;
      const settled = Promise.all(this.loops);
      const timer = setTimeout(() => this.open.forEach((c) => c.disconnect()), 1500);
      await settled;
      clearTimeout(timer);
    }
    return this.stats();
  }
}
