import type { Logger } from 'pino';
import { joinHostPort } from '../config/address.js';
import { LogThrottle } from '../log/throttle.js';
import type { FrontDoor, Output } from '../outputs/types.js';
import type { ClusterState, MasterAddress, MasterChange, TopologySnapshot } from '../topology/types.js';
import { checkProxy, checkRegistry, doorAddress, MasterIdentities, type InstanceAccess } from './checks.js';
import { afterWrong, applyWindow, stateAt, type ApplyWindow } from './judge.js';
import { sleep } from './pool.js';
import type { RouteVerification, Verdict } from './types.js';

/** What the verifier needs of the output's runner: re-apply through it, with its backoff, and know when it is busy. */
export interface VerifiedRunner {
  submit(snapshot: TopologySnapshot, changes?: MasterChange[]): void;
  busy(): boolean;
  backoffMs(attempt: number): number;
}

export interface FailoverVerified {
  output: string;
  cluster: string;
  master: MasterAddress;
  configEpoch: number | null;
  /** From the sentinel's announcement (or, when none was seen, the confirmation) to the first verified check. */
  verifiedMs: number;
  from: 'announcement' | 'confirmation';
}

export interface VerifierOptions {
  output: Output;
  runner: VerifiedRunner;
  snapshot(): TopologySnapshot;
  access: InstanceAccess;
  logger: Logger;
  /** A route's state changed (status page, /api/stream). */
  onChange?(): void;
  /** A failover's new master was first reached through this output. */
  onFailoverVerified?(e: FailoverVerified): void;
}

/** Checks in flight at once after an apply (a mass failover) and during a periodic sweep. */
const AFTER_APPLY_PARALLEL = 16;
const PERIODIC_PARALLEL = 4;
/**
 * At most this many periodic checks per second per output, whatever the number of clusters: each
 * check is a new client connection (and TLS, AUTH) through the proxy, and the periodic sweep is a
 * safety net, not the failover path (after an apply, checks are not capped). Up to 25 clusters are
 * each checked every VerifyIntervalMs (10 s); 1,000 clusters about every 200 s, instead of 100
 * connections a second.
 */
const PERIODIC_PER_SECOND = 5;
/** Between checks while an apply takes effect. */
const POLL_MS = 25;

const keyOf = (m: MasterAddress) => joinHostPort(m.ip, m.port);

interface AwaitedFailover {
  master: string;
  at: MasterAddress;
  start: number;
  from: 'announcement' | 'confirmation';
  configEpoch: number | null;
}

/**
 * Proves, per output and cluster, that a NEW client going the way clients go reaches the
 * confirmed master: after each apply (allowing the apply its moment to take effect) and every
 * VerifyIntervalMs while nothing changes. A wrong route is applied again through the output's
 * runner (its backoff), at most VerifyRetries times, then reported. It reads the topology and
 * never writes it: what is confirmed is the watcher's alone.
 */
export class OutputVerifier {
  private readonly routes = new Map<string, RouteVerification>();
  private readonly failovers = new Map<string, AwaitedFailover>();
  /** Per cluster, the newest after-apply check: an older one still running drops the cluster. */
  private readonly generation = new Map<string, number>();
  /** Clusters an after-apply check is deciding: the periodic check leaves them to it. */
  private readonly settling = new Set<string>();
  private readonly masters: MasterIdentities;
  private readonly redo = { clusters: new Set<string>(), timer: null as NodeJS.Timeout | null };
  private timer: NodeJS.Timeout | null = null;
  private sweeping = false;
  private closed = false;
  /** Nothing is checked before the output's first apply (it may still show a previous run's state). */
  private active = false;
  private readonly log: Logger;
  private readonly logLimit: LogThrottle;
  /** In the output's details (/api/outputs) and so in redishappy_output_events{kind="verify_..."}. */
  private counters = { verifyChecks: 0, verifyWrong: 0, verifyReapplies: 0 };

  constructor(private readonly opts: VerifierOptions) {
    this.log = opts.logger;
    this.masters = new MasterIdentities(opts.access);
    this.logLimit = new LogThrottle({
      windowMs: 10000,
      burst: 3,
      onSuppressed: (kind, suppressed) => this.log.warn({ output: this.name, kind, suppressed }, 'front-door check lines not logged one by one (too many)'),
    });
  }

  get name(): string {
    return this.opts.output.name;
  }

  get output(): Output {
    return this.opts.output;
  }

  /** The door now (its settle time depends on how the last apply went). Undefined: this output has no door (hooks). */
  private door(): FrontDoor | undefined {
    return this.opts.output.frontDoor?.();
  }

  /** Says once when verification is off, and starts the periodic check. */
  start(): void {
    const door = this.door();
    if (!door) return;
    if (door.kind === 'off') {
      this.log.info({ output: this.name, reason: door.reason }, 'front-door verification is off for this output');
      return;
    }
    this.timer = setInterval(() => void this.sweep(), door.intervalMs);
    this.timer.unref();
  }

  /** Per cluster, the latest verification (for /api/topology, the status page and /metrics). */
  states(): ReadonlyMap<string, RouteVerification> {
    return this.routes;
  }

  details(): Record<string, number> {
    return { ...this.counters };
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.redo.timer) clearTimeout(this.redo.timer);
    this.timer = this.redo.timer = null;
    this.logLimit.flush();
  }

  /** The runner applied: check the clusters whose route changed or is not verified, once the apply has taken effect. */
  applied(changes: readonly MasterChange[]): void {
    const door = this.door();
    if (this.closed || !door || door.kind === 'off') return;
    this.active = true;
    const appliedAt = Date.now();
    for (const c of changes) {
      this.failovers.set(c.cluster, { master: keyOf(c.current), at: c.current, start: c.announcedAt ?? Date.parse(c.confirmedAt), from: c.announcedAt !== null ? 'announcement' : 'confirmation', configEpoch: c.configEpoch });
    }
    const changed = new Set(changes.map((c) => c.cluster));
    const targets = this.opts.snapshot().clusters.filter((c) => {
      if (!c.master) return false;
      const route = this.routes.get(c.name);
      return changed.has(c.name) || !route || route.master !== keyOf(c.master) || route.state !== 'verified';
    });
    if (targets.length > 0) void this.afterApply(targets.map((c) => c.name), applyWindow(appliedAt, door.kind === 'proxy' ? door.settleMs : 0));
  }

  /**
   * Check until each cluster has a verdict the apply's timing allows: a success only once the
   * previous configuration can no longer take connections (settleUntil), a failure only once the
   * apply had its time (deadline); in between the route is pending and checked again.
   */
  private async afterApply(names: string[], window: ApplyWindow): Promise<void> {
    const mine = new Map(names.map((n) => [n, (this.generation.get(n) ?? 0) + 1] as const));
    for (const [n, g] of mine) {
      this.generation.set(n, g);
      this.settling.add(n);
    }
    const current = (n: string) => this.generation.get(n) === mine.get(n);
    try {
      await this.settle(names, window, current);
    } finally {
      for (const n of names) if (current(n)) this.settling.delete(n);
    }
  }

  private async settle(names: string[], window: ApplyWindow, current: (n: string) => boolean): Promise<void> {
    for (const c of this.opts.snapshot().clusters) if (names.includes(c.name) && c.master) this.markPending(c);
    await sleep(window.settleUntil - Date.now());
    let todo = names;
    while (todo.length > 0 && !this.closed) {
      const door = this.door();
      if (!door || door.kind === 'off') return;
      const clusters = this.opts.snapshot().clusters.filter((c) => c.master && todo.includes(c.name) && current(c.name));
      if (clusters.length === 0) return;
      const startedAt = Date.now();
      const verdicts = await this.check(door, clusters, AFTER_APPLY_PARALLEL);
      const next: string[] = [];
      for (const c of clusters) {
        const v = verdicts.get(c.name);
        if (!v || !current(c.name) || this.closed) continue;
        if (stateAt(v, startedAt, window) === 'pending') next.push(c.name);
        else {
          this.settling.delete(c.name);
          this.conclude(c, v, door);
        }
      }
      todo = next;
      if (todo.length > 0) await sleep(POLL_MS);
    }
  }

  /** Every VerifyIntervalMs: one check per confirmed cluster, spread over half the interval (at most PERIODIC_PER_SECOND), a few at a time; a sweep still running skips the next tick. */
  private async sweep(): Promise<void> {
    // While an apply runs or waits, what the door shows may be about to change: its own check follows it.
    if (this.closed || !this.active || this.sweeping || this.opts.runner.busy()) return;
    const door = this.door();
    if (!door || door.kind === 'off') return;
    this.sweeping = true;
    try {
      const snapshot = this.opts.snapshot();
      this.masters.keepOnly(snapshot.clusters);
      // An after-apply check or a re-apply on its way decides those: never count one wrong route twice.
      const clusters = snapshot.clusters.filter((c) => c.master && !this.settling.has(c.name) && !this.redo.clusters.has(c.name));
      const before = new Map(clusters.map((c) => [c.name, this.generation.get(c.name) ?? 0] as const));
      const gapMs = clusters.length > 0 ? Math.max(door.intervalMs / 2 / clusters.length, 1000 / PERIODIC_PER_SECOND) : 0;
      const verdicts = await this.check(door, clusters, PERIODIC_PARALLEL, gapMs);
      for (const c of clusters) {
        const v = verdicts.get(c.name);
        // An apply since: its own check decides (this one may have seen the old state).
        if (!v || this.closed || (this.generation.get(c.name) ?? 0) !== before.get(c.name)) continue;
        if (v.state !== 'verified' && (this.opts.runner.busy() || this.settling.has(c.name) || this.redo.clusters.has(c.name))) continue;
        const now = this.opts.snapshot().clusters.find((x) => x.name === c.name);
        if (!now?.master || keyOf(now.master) !== keyOf(c.master!)) continue;
        this.conclude(c, v, door);
      }
    } finally {
      this.sweeping = false;
    }
  }

  private async check(door: Exclude<FrontDoor, { kind: 'off' }>, clusters: ClusterState[], parallel: number, gapMs = 0): Promise<Map<string, Verdict>> {
    this.counters.verifyChecks += clusters.length;
    if (door.kind === 'registry') return checkRegistry(door, clusters);
    return checkProxy(door, clusters, { access: this.opts.access, masters: this.masters, parallel, gapMs, stopped: () => this.closed });
  }

  private doorLabel(door: Exclude<FrontDoor, { kind: 'off' }>, c: ClusterState): string {
    if (door.kind === 'registry') return this.name;
    const { host, port } = doorAddress(door, c);
    return joinHostPort(host, port);
  }

  /** A new master not yet checked: pending (not wrong) until the apply had its time. */
  private markPending(c: ClusterState): void {
    const route = this.routes.get(c.name);
    const master = keyOf(c.master!);
    if (route && route.master === master) return;
    const door = this.door();
    this.routes.set(c.name, { state: 'pending', master, door: door && door.kind !== 'off' ? this.doorLabel(door, c) : '', checkedAt: null, verifiedAt: null, retries: 0, gaveUp: false });
    this.opts.onChange?.();
  }

  /** Record a verdict; on wrong, apply again (bounded) or report; on a failover's first success, measure it. */
  private conclude(c: ClusterState, verdict: Verdict, door: Exclude<FrontDoor, { kind: 'off' }>): void {
    const master = keyOf(c.master!);
    const prev = this.routes.get(c.name);
    const same = prev?.master === master;
    const now = new Date().toISOString();
    const base = { master, door: this.doorLabel(door, c), checkedAt: now };
    const fields = { output: this.name, cluster: c.name, door: base.door, master };
    let route: RouteVerification;
    if (verdict.state === 'verified') {
      route = { ...base, state: 'verified', verifiedAt: now, retries: 0, gaveUp: false };
      if (same && (prev.state === 'wrong' || prev.state === 'unreachable')) this.log.info(fields, 'front-door check: clients reach the confirmed master again');
      const f = this.failovers.get(c.name);
      if (f && f.master === master) {
        this.failovers.delete(c.name);
        const verifiedMs = Date.now() - f.start;
        this.log.info({ ...fields, verifiedMs, from: f.from }, 'failover: clients reach the new master');
        this.opts.onFailoverVerified?.({ output: this.name, cluster: c.name, master: f.at, configEpoch: f.configEpoch, verifiedMs, from: f.from });
      }
    } else if (verdict.state === 'unreachable') {
      route = { ...base, state: 'unreachable', verifiedAt: same ? prev.verifiedAt : null, error: verdict.error, retries: same ? prev.retries : 0, gaveUp: same ? prev.gaveUp : false };
      if (!same || prev.state !== 'unreachable') {
        if (this.logLimit.take('unreachable')) this.log.warn({ ...fields, err: verdict.error }, 'front-door check: nothing to compare, clients may not reach the master');
      }
    } else {
      this.counters.verifyWrong++;
      let retries = same ? prev.retries : 0;
      let gaveUp = same ? prev.gaveUp : false;
      const action = afterWrong(retries, door.retries, gaveUp);
      if (action === 'retry') {
        retries++;
        if (this.logLimit.take('wrong')) this.log.warn({ ...fields, reached: verdict.reached, retry: retries, of: door.retries }, 'front-door check: clients reach another instance, not the confirmed master; applying again');
        this.scheduleRedo(c.name, retries);
      } else if (action === 'give-up') {
        gaveUp = true;
        if (this.logLimit.take('gave-up')) this.log.error({ ...fields, reached: verdict.reached, retries }, `front-door check: clients still reach another instance after ${retries} applies again; not applying again until the route changes (the confirmed master is unchanged)`);
      }
      route = { ...base, state: 'wrong', verifiedAt: same ? prev.verifiedAt : null, reached: verdict.reached, retries, gaveUp };
    }
    const changed = !prev || prev.state !== route.state || prev.master !== route.master || prev.retries !== route.retries;
    this.routes.set(c.name, route);
    if (changed) this.opts.onChange?.();
  }

  /**
   * Apply again through the runner after its backoff. Clusters found wrong meanwhile join the same
   * re-apply: one reload for many clusters, never one each.
   */
  private scheduleRedo(cluster: string, attempt: number): void {
    this.redo.clusters.add(cluster);
    if (this.redo.timer) return;
    this.redo.timer = setTimeout(() => {
      this.redo.timer = null;
      const clusters = [...this.redo.clusters];
      this.redo.clusters.clear();
      if (this.closed) return;
      this.counters.verifyReapplies++;
      this.opts.output.forget?.(clusters);
      this.opts.runner.submit(this.opts.snapshot(), []);
    }, this.opts.runner.backoffMs(attempt));
    this.redo.timer.unref();
  }
}
