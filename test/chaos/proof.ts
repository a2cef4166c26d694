import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { routedTo, type RedisNode } from '../harness/index.js';

/**
 * Evidence that a fault really happened, and watches that fail on a bad landing at any moment.
 * A chaos scenario asserts its fault with these before it checks anything else.
 */

/** The kernel's state letter for a process (R, S, D, T = stopped, Z...), null when there is none. */
export function procState(pid: number | undefined): string | null {
  if (!pid) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? null;
  } catch {
    return null;
  }
}

/** The node's process is gone (killed and reaped), not merely unanswering. */
export function assertDead(node: RedisNode): void {
  assert.equal(node.running, false, `${node.name} is still running`);
  assert.equal(procState(node.pid), null, `${node.name}'s process ${node.pid} still exists`);
}

/**
 * The node's process is stopped by SIGSTOP (state T), not merely slow. A signal is delivered
 * asynchronously, so this waits (up to 2 s) for the kernel to show the state.
 */
export async function assertStopped(node: RedisNode): Promise<void> {
  const deadline = Date.now() + 2000;
  while (procState(node.pid) !== 'T' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.equal(procState(node.pid), 'T', `${node.name} (pid ${node.pid}) is not stopped`);
}

/** Nothing accepts TCP connections on the port (connection refused). */
export async function assertRefused(port: number, what: string): Promise<void> {
  const code = await new Promise<string>((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => {
      s.destroy();
      resolve('timeout');
    }, 3000);
    s.once('connect', () => {
      clearTimeout(timer);
      s.destroy();
      resolve('connected');
    });
    s.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(err.code ?? err.message);
    });
  });
  assert.equal(code, 'ECONNREFUSED', `${what}: port ${port} should refuse connections`);
}

/**
 * A check run over and over in the background until stopped. Each violation it returns is kept
 * (with when it happened), so a bad state seen once, even for a moment, fails the test; `errors`
 * counts checks that could not be made (e.g. no connection through HAProxy while it has no
 * server up), which are not violations.
 */
export class Watch {
  checks = 0;
  errors = 0;
  readonly violations: string[] = [];
  private running = true;
  private readonly loop: Promise<void>;

  constructor(
    readonly what: string,
    check: () => Promise<string | undefined>,
    intervalMs = 10,
  ) {
    this.loop = (async () => {
      while (this.running) {
        try {
          const v = await check();
          if (!this.running) break;
          this.checks++;
          if (v !== undefined) this.violations.push(`${new Date().toISOString()} ${v}`);
        } catch {
          this.errors++;
        }
        await new Promise((r) => setTimeout(r, intervalMs));
      }
    })();
  }

  /** Stop watching and assert nothing bad was seen (and that the watch really checked). */
  async stopAndAssert(minChecks = 10): Promise<void> {
    this.running = false;
    await this.loop;
    assert.deepEqual(this.violations.slice(0, 5), [], `${this.what}: ${this.violations.length} violation(s)`);
    assert.ok(this.checks >= minChecks, `${this.what}: only ${this.checks} checks made (${this.errors} errors)`);
  }

  /** For cleanup on failure. */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

/** New connections through HAProxy's port `ext` must reach `port` (a connection error is not a violation). */
export function routingStays(ext: number, port: number, what: string): Watch {
  return new Watch(what, async () => {
    const to = await routedTo(ext);
    return to === port ? undefined : `routed to ${to} instead of ${port}`;
  });
}
