import { Redis } from 'ioredis';

export interface Ack {
  key: string;
  node: number;
  at: number;
}

function connect(port: number): Redis {
  const c = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false, connectTimeout: 500, commandTimeout: 500, enableReadyCheck: false });
  c.on('error', () => {});
  return c;
}

async function nodeOf(c: Redis): Promise<number> {
  const m = /^tcp_port:(\d+)/m.exec(await c.info('server'));
  if (!m) throw new Error('no tcp_port');
  return Number(m[1]);
}

/**
 * Clients writing continuously through HAProxy's external port: long-lived connections (kept
 * until they break) and one worker opening a new connection per write. Every acknowledged write
 * is recorded with the node that acknowledged it (learned with INFO server on that connection).
 */
export class WriterPool {
  readonly acks: Ack[] = [];
  errors = 0;
  lastError = '';
  private running = true;
  private readonly loops: Promise<void>[] = [];
  private seq = 0;

  constructor(
    private readonly port: number,
    private readonly prefix: string,
    longLived = 3,
  ) {
    for (let i = 0; i < longLived; i++) this.loops.push(this.longLived(i));
    this.loops.push(this.shortLived());
  }

  private async longLived(worker: number): Promise<void> {
    while (this.running) {
      const c = connect(this.port);
      try {
        await c.connect();
        const node = await nodeOf(c);
        while (this.running) {
          const key = `${this.prefix}:L${worker}:${this.seq++}`;
          await c.set(key, String(Date.now()));
          this.acks.push({ key, node, at: Date.now() });
          await new Promise((r) => setTimeout(r, 2));
        }
      } catch (err) {
        this.errors++;
        this.lastError = (err as Error).message;
        await new Promise((r) => setTimeout(r, 20));
      } finally {
        c.disconnect();
      }
    }
  }

  private async shortLived(): Promise<void> {
    while (this.running) {
      const c = connect(this.port);
      try {
        await c.connect();
        const node = await nodeOf(c);
        const key = `${this.prefix}:S:${this.seq++}`;
        await c.set(key, String(Date.now()));
        this.acks.push({ key, node, at: Date.now() });
        await new Promise((r) => setTimeout(r, 2));
      } catch (err) {
        this.errors++;
        this.lastError = (err as Error).message;
        await new Promise((r) => setTimeout(r, 20));
      } finally {
        c.disconnect();
      }
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }
}

export interface Summary {
  scenario: string;
  acked: number;
  acked_by_unconfirmed_master: number;
  lost_after_switch: number;
  unavailable_ms: number;
}

/**
 * acked_by_unconfirmed_master: writes acknowledged after the switch by any node other than the
 * master confirmed then. lost_after_switch: writes the new master acknowledged after the switch
 * that the final master does not have. unavailable_ms: longest gap without an acknowledged write.
 */
export async function summarize(scenario: string, acks: Ack[], switches: Array<{ at: number; master: number }>, finalMasterPort: number): Promise<Summary> {
  const sorted = [...acks].sort((a, b) => a.at - b.at);
  let gap = 0;
  for (let i = 1; i < sorted.length; i++) gap = Math.max(gap, sorted[i]!.at - sorted[i - 1]!.at);
  const masterAt = (t: number) => {
    let m: number | null = null;
    for (const s of switches) if (s.at <= t) m = s.master;
    return m;
  };
  const afterFirstSwitch = switches.length ? sorted.filter((a) => a.at > switches[0]!.at) : [];
  const unconfirmed = afterFirstSwitch.filter((a) => a.node !== masterAt(a.at)).length;
  const lastSwitch = switches.at(-1);
  let lost = 0;
  if (lastSwitch) {
    const mustHave = sorted.filter((a) => a.at > lastSwitch.at && a.node === lastSwitch.master);
    const c = connect(finalMasterPort);
    await c.connect();
    for (let i = 0; i < mustHave.length; i += 500) {
      const batch = mustHave.slice(i, i + 500);
      const values = await c.mget(...batch.map((a) => a.key));
      lost += values.filter((v) => v === null).length;
    }
    c.disconnect();
  }
  const summary = { scenario, acked: acks.length, acked_by_unconfirmed_master: unconfirmed, lost_after_switch: lost, unavailable_ms: gap };
  console.log(`scenario=${scenario} acked=${summary.acked} acked_by_unconfirmed_master=${unconfirmed} lost_after_switch=${lost} unavailable_ms=${gap}`);
  return summary;
}
