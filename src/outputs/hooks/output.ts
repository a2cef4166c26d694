import type { Logger } from 'pino';
import type { MasterChange, TopologySnapshot } from '../../topology/types.js';
import type { Output, OutputStatus } from '../types.js';
import type { ExecHook, WebhookHook } from './config.js';
import { PermanentError, runExecHook } from './deliver-exec.js';
import { postWebhook } from './deliver-webhook.js';
import { hookEvent, type HookEvent } from './payload.js';

interface HookState {
  label: string;
  clusters: string[] | undefined;
  maxAttempts: number;
  deliver: (e: HookEvent, signal: AbortSignal) => Promise<string>;
  deliveries: number;
  failures: number;
  dropped: number;
  lastDeliveryAt: string | null;
  lastError: string | null;
}

/**
 * Shared by the Exec and Webhook outputs. `apply` only enqueues: each (hook, cluster) pair has
 * its own serial queue, so events for a cluster arrive in order, and a slow or failing hook
 * delays nothing else (not the watcher, not other hooks, not other outputs).
 */
class HookOutput implements Output {
  private readonly queues = new Map<string, { items: HookEvent[]; running: boolean }>();
  private readonly abort = new AbortController();
  private readonly timers = new Set<NodeJS.Timeout>();
  private lastAppliedAt: string | null = null;
  private lastErrorAt: string | null = null;

  constructor(
    readonly name: string,
    private readonly hooks: HookState[],
    private readonly log: Logger,
    private readonly retryMinMs = 1000,
    private readonly retryMaxMs = 30000,
  ) {}

  async apply(snapshot: TopologySnapshot, changes: MasterChange[]): Promise<void> {
    // Only real changes: the first confirmation after a start is not a failover.
    for (const change of changes.filter((c) => c.previous !== null)) {
      this.hooks.forEach((hook, i) => {
        if (hook.clusters && !hook.clusters.includes(change.cluster)) return;
        const key = `${i}\u0000${change.cluster}`;
        const q = this.queues.get(key) ?? { items: [], running: false };
        this.queues.set(key, q);
        q.items.push(hookEvent(change, snapshot));
        if (!q.running) void this.drain(hook, q);
      });
    }
    this.lastAppliedAt = new Date().toISOString();
  }

  private async drain(hook: HookState, q: { items: HookEvent[]; running: boolean }): Promise<void> {
    q.running = true;
    while (q.items.length > 0 && !this.abort.signal.aborted) {
      const event = q.items[0]!;
      for (let attempt = 1; ; attempt++) {
        try {
          const result = await hook.deliver(event, this.abort.signal);
          hook.deliveries++;
          hook.lastDeliveryAt = new Date().toISOString();
          hook.lastError = null;
          this.log.info({ hook: hook.label, cluster: event.cluster, delivery: event.deliveryId, attempt, output: result.trim().slice(0, 1000) || undefined }, `${this.name} hook delivered`);
          break;
        } catch (err) {
          if (this.abort.signal.aborted) return;
          hook.failures++;
          this.lastErrorAt = new Date().toISOString();
          const e = err as Error & { output?: string };
          hook.lastError = `${e.message}${e.output ? ` (output: ${e.output.trim().slice(0, 300)})` : ''}`;
          const permanent = err instanceof PermanentError;
          if (permanent || attempt >= hook.maxAttempts) {
            hook.dropped++;
            this.log.error({ hook: hook.label, cluster: event.cluster, delivery: event.deliveryId, attempt, err: hook.lastError }, `${this.name} hook failed; giving up on this event`);
            break;
          }
          const delay = Math.round(Math.min(this.retryMaxMs, this.retryMinMs * 2 ** (attempt - 1)) * (0.5 + Math.random() * 0.5));
          this.log.warn({ hook: hook.label, cluster: event.cluster, attempt, retryInMs: delay, err: hook.lastError }, `${this.name} hook failed; will retry`);
          await new Promise<void>((resolve) => {
            const t = setTimeout(() => {
              this.timers.delete(t);
              resolve();
            }, delay);
            this.timers.add(t);
          });
          if (this.abort.signal.aborted) return;
        }
      }
      q.items.shift();
    }
    q.running = false;
  }

  status(): OutputStatus {
    const failing = this.hooks.filter((h) => h.lastError !== null);
    const lastError = failing.length ? failing.map((h) => `${h.label}: ${h.lastError}`).join('; ') : null;
    return {
      name: this.name,
      lastAppliedAt: this.lastAppliedAt,
      appliedVersion: null,
      lastError,
      lastErrorAt: failing.length ? this.lastErrorAt : null,
      details: {
        deliveries: this.hooks.reduce((n, h) => n + h.deliveries, 0),
        deliveryFailures: this.hooks.reduce((n, h) => n + h.failures, 0),
        dropped: this.hooks.reduce((n, h) => n + h.dropped, 0),
        queued: [...this.queues.values()].reduce((n, q) => n + q.items.length, 0),
        hooks: this.hooks.map((h) => ({ hook: h.label, deliveries: h.deliveries, failures: h.failures, dropped: h.dropped, lastDeliveryAt: h.lastDeliveryAt, lastError: h.lastError })),
      },
    };
  }

  async close(): Promise<void> {
    this.abort.abort();
    for (const t of this.timers) clearTimeout(t);
  }
}

function state(label: string, clusters: string[] | undefined, maxAttempts: number, deliver: HookState['deliver']): HookState {
  return { label, clusters, maxAttempts, deliver, deliveries: 0, failures: 0, dropped: 0, lastDeliveryAt: null, lastError: null };
}

export interface HookOutputOptions {
  logger: Logger;
  retryMinMs?: number;
  retryMaxMs?: number;
}

export function createExecOutput(hooks: ExecHook[], opts: HookOutputOptions): Output {
  return new HookOutput('exec', hooks.map((h) => state(h.Command, h.Clusters, h.MaxAttempts, (e, s) => runExecHook(h, e, s))), opts.logger, opts.retryMinMs, opts.retryMaxMs);
}

export function createWebhookOutput(hooks: WebhookHook[], opts: HookOutputOptions): Output {
  // The URL may carry credentials: log only its origin and path.
  const label = (u: string) => {
    const url = new URL(u);
    return `${url.origin}${url.pathname}`;
  };
  return new HookOutput('webhook', hooks.map((h) => state(label(h.Url), h.Clusters, h.MaxAttempts, (e, s) => postWebhook(h, e, s))), opts.logger, opts.retryMinMs, opts.retryMaxMs);
}
