import type { Logger } from 'pino';
import { joinHostPort } from '../config/address.js';
import { LogThrottle } from '../log/throttle.js';
import type { FrontDoor, Output } from '../outputs/types.js';
import type { ClusterState, MasterAddress, MasterChange, TopologySnapshot } from '../topology/types.js';
import { checkProxy, checkReadProxy, checkRegistry, doorAddress, InstanceIdentities, MasterIdentities, readDoorAddress, type InstanceAccess } from './checks.js';
import { afterWrong, applyWindow, readExpectation, stateAt, type ApplyWindow } from './judge.js';
import { sleep } from './pool.js';
import type { DoorRole, RouteVerification, Verdict } from './types.js';

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

type Door = Exclude<FrontDoor, { kind: 'off' }>;

/** One route to check: a cluster's write door (its confirmed master) or read door (its read pool). */
interface Target {
  role: DoorRole;
  cluster: ClusterState;
}

/** Internal key of a route: its door role and the cluster's name (a NUL between: no name can fake another). */
const idOf = (role: DoorRole, name: string) => `${role}\u0000${name}`;
const targetId = (t: Target) => idOf(t.role, t.cluster.name);

/**
 * What a route's state is about: the confirmed master for a write door; for a read door also
 * where reads go and the pool's members. When it changes, the route is new (pending, retries 0).
 */
function aboutOf(t: Target): string | null {
  if (!t.cluster.master) return null;
  if (t.role === 'write') return keyOf(t.cluster.master);
  const e = readExpectation(t.cluster);
  return e ? `${keyOf(t.cluster.master)} ${e.target} ${e.members.join(',')}` : null;
}
const routeAbout = (r: RouteVerification, role: DoorRole) => (role === 'write' ? r.master : `${r.master} ${r.readTarget ?? ''} ${(r.readPool ?? []).join(',')}`);

interface AwaitedFailover {
  master: string;
  at: MasterAddress;
  start: number;
  from: 'announcement' | 'confirmation';
  configEpoch: number | null;
}

/**
 * Proves, per output and cluster, that a NEW client going the way clients go reaches the
 * confirmed master (and, through a proxy's read door, the read pool): after each apply (allowing
 * the apply its moment to take effect) and every VerifyIntervalMs while nothing changes. A wrong
 * route is applied again through the output's runner (its backoff), at most VerifyRetries times,
 * then reported. It reads the topology and never writes it: what is confirmed is the watcher's alone.
 */
export class OutputVerifier {
  /** Per door role, per cluster: the latest verification. */
  private readonly routes: Record<DoorRole, Map<string, RouteVerification>> = { write: new Map(), read: new Map() };
  private readonly failovers = new Map<string, AwaitedFailover>();
  /** Per route (idOf), the newest after-apply check: an older one still running drops the route. */
  private readonly generation = new Map<string, number>();
  /** Routes (idOf) an after-apply check is deciding: the periodic check leaves them to it. */
  private readonly settling = new Set<string>();
  private readonly masters: MasterIdentities;
  private readonly replicas: InstanceIdentities;
  /** Routes (idOf) found wrong, waiting for the one re-apply they share. */
  private readonly redo = { routes: new Set<string>(), clusters: new Set<string>(), timer: null as NodeJS.Timeout | null };
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
    this.replicas = new InstanceIdentities(opts.access);
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

  /** Per cluster, the latest verification of its write door (for /api/topology, the status page and /metrics). */
  states(): ReadonlyMap<string, RouteVerification> {
    return this.routes.write;
  }

  /** Per cluster, the latest verification of its read door (clusters with an ExternalReadPort, proxies serving it). */
  readStates(): ReadonlyMap<string, RouteVerification> {
    return this.routes.read;
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

  /** The routes this door checks now: each confirmed cluster's write door, and its read door when the proxy serves reads. */
  private targets(door: Door, clusters: readonly ClusterState[]): Target[] {
    const out: Target[] = [];
    for (const c of clusters) if (c.master) out.push({ role: 'write', cluster: c });
    if (door.kind === 'proxy' && door.reads) for (const c of clusters) if (readExpectation(c)) out.push({ role: 'read', cluster: c });
    return out;
  }

  /** The runner applied: check the routes that changed or are not verified, once the apply has taken effect. */
  applied(changes: readonly MasterChange[]): void {
    const door = this.door();
    if (this.closed || !door || door.kind === 'off') return;
    this.active = true;
    const appliedAt = Date.now();
    for (const c of changes) {
      this.failovers.set(c.cluster, { master: keyOf(c.current), at: c.current, start: c.announcedAt ?? Date.parse(c.confirmedAt), from: c.announcedAt !== null ? 'announcement' : 'confirmation', configEpoch: c.configEpoch });
    }
    const changed = new Set(changes.map((c) => c.cluster));
    const targets = this.targets(door, this.opts.snapshot().clusters).filter((t) => {
      const route = this.routes[t.role].get(t.cluster.name);
      return (t.role === 'write' && changed.has(t.cluster.name)) || !route || routeAbout(route, t.role) !== aboutOf(t) || route.state !== 'verified';
    });
    if (targets.length > 0) void this.afterApply(targets.map(targetId), applyWindow(appliedAt, door.kind === 'proxy' ? door.settleMs : 0));
  }

  /**
   * Check until each route has a verdict the apply's timing allows: a success only once the
   * previous configuration can no longer take connections (settleUntil), a failure only once the
   * apply had its time (deadline); in between the route is pending and checked again.
   */
  private async afterApply(ids: string[], window: ApplyWindow): Promise<void> {
    const mine = new Map(ids.map((n) => [n, (this.generation.get(n) ?? 0) + 1] as const));
    for (const [n, g] of mine) {
      this.generation.set(n, g);
      this.settling.add(n);
    }
    const current = (n: string) => this.generation.get(n) === mine.get(n);
    try {
      await this.settle(new Set(ids), window, current);
    } finally {
      for (const n of ids) if (current(n)) this.settling.delete(n);
    }
  }

  /** The targets of `ids` in the topology now (a route whose door no longer applies is dropped). */
  private currentTargets(door: Door, ids: ReadonlySet<string>): Target[] {
    return this.targets(door, this.opts.snapshot().clusters).filter((t) => ids.has(targetId(t)));
  }

  private async settle(ids: ReadonlySet<string>, window: ApplyWindow, current: (n: string) => boolean): Promise<void> {
    const first = this.door();
    if (first && first.kind !== 'off') for (const t of this.currentTargets(first, ids)) this.markPending(t, first);
    await sleep(window.settleUntil - Date.now());
    let todo = ids;
    while (todo.size > 0 && !this.closed) {
      const door = this.door();
      if (!door || door.kind === 'off') return;
      const targets = this.currentTargets(door, todo).filter((t) => current(targetId(t)));
      if (targets.length === 0) return;
      const startedAt = Date.now();
      const verdicts = await this.check(door, targets, AFTER_APPLY_PARALLEL);
      const next = new Set<string>();
      for (const t of targets) {
        const id = targetId(t);
        const v = verdicts.get(id);
        if (!v || !current(id) || this.closed) continue;
        if (stateAt(v, startedAt, window) === 'pending') next.add(id);
        else {
          this.settling.delete(id);
          this.conclude(t, v, door);
        }
      }
      todo = next;
      if (todo.size > 0) await sleep(POLL_MS);
    }
  }

  /** Every VerifyIntervalMs: one check per route, spread over half the interval (at most PERIODIC_PER_SECOND), a few at a time; a sweep still running skips the next tick. */
  private async sweep(): Promise<void> {
    // While an apply runs or waits, what the door shows may be about to change: its own check follows it.
    if (this.closed || !this.active || this.sweeping || this.opts.runner.busy()) return;
    const door = this.door();
    if (!door || door.kind === 'off') return;
    this.sweeping = true;
    try {
      const snapshot = this.opts.snapshot();
      this.masters.keepOnly(snapshot.clusters);
      const all = this.targets(door, snapshot.clusters);
      this.replicas.keepOnly(new Map(all.filter((t) => t.role === 'read').map((t) => [t.cluster.name, readExpectation(t.cluster)?.members ?? []] as const)));
      // An after-apply check or a re-apply on its way decides those: never count one wrong route twice.
      const targets = all.filter((t) => !this.settling.has(targetId(t)) && !this.redo.routes.has(targetId(t)));
      const before = new Map(targets.map((t) => [targetId(t), { generation: this.generation.get(targetId(t)) ?? 0, about: aboutOf(t) }] as const));
      const gapMs = targets.length > 0 ? Math.max(door.intervalMs / 2 / targets.length, 1000 / PERIODIC_PER_SECOND) : 0;
      const verdicts = await this.check(door, targets, PERIODIC_PARALLEL, gapMs);
      const now = new Map(this.targets(door, this.opts.snapshot().clusters).map((t) => [targetId(t), t] as const));
      for (const t of targets) {
        const id = targetId(t);
        const v = verdicts.get(id);
        // An apply since: its own check decides (this one may have seen the old state).
        if (!v || this.closed || (this.generation.get(id) ?? 0) !== before.get(id)?.generation) continue;
        if (v.state !== 'verified' && (this.opts.runner.busy() || this.settling.has(id) || this.redo.routes.has(id))) continue;
        // The route changed meanwhile (a new master, a new pool): the apply that follows decides.
        const fresh = now.get(id);
        if (!fresh || aboutOf(fresh) !== before.get(id)?.about) continue;
        this.conclude(t, v, door);
      }
    } finally {
      this.sweeping = false;
    }
  }

  /** Verdicts per route (idOf), write doors and read doors checked side by side. */
  private async check(door: Door, targets: readonly Target[], parallel: number, gapMs = 0): Promise<Map<string, Verdict>> {
    this.counters.verifyChecks += targets.length;
    const write = targets.filter((t) => t.role === 'write').map((t) => t.cluster);
    const read = targets.filter((t) => t.role === 'read').map((t) => t.cluster);
    const out = new Map<string, Verdict>();
    const keep = (role: DoorRole) => (verdicts: Map<string, Verdict>) => {
      for (const [name, v] of verdicts) out.set(idOf(role, name), v);
    };
    if (door.kind === 'registry') {
      keep('write')(await checkRegistry(door, write));
      return out;
    }
    // Both kinds run side by side, each spread over the same half interval as one kind alone
    // (the gap per kind grows as its share shrinks) and each with half the parallelism.
    const both = write.length > 0 && read.length > 0;
    const ctx = (n: number) => ({
      access: this.opts.access,
      masters: this.masters,
      replicas: this.replicas,
      parallel: both ? Math.max(1, Math.ceil(parallel / 2)) : parallel,
      gapMs: (gapMs * targets.length) / Math.max(1, n),
      stopped: () => this.closed,
    });
    await Promise.all([
      write.length > 0 ? checkProxy(door, write, ctx(write.length)).then(keep('write')) : undefined,
      read.length > 0 ? checkReadProxy(door, read, ctx(read.length)).then(keep('read')) : undefined,
    ]);
    return out;
  }

  private doorLabel(door: Door, t: Target): string {
    if (door.kind === 'registry') return this.name;
    const { host, port } = t.role === 'write' ? doorAddress(door, t.cluster) : readDoorAddress(door, t.cluster);
    return joinHostPort(host, port);
  }

  /** What a route is about, in its public fields: the master, and for a read door where reads go. */
  private routeBase(t: Target, door: Door): Pick<RouteVerification, 'master' | 'door' | 'readTarget' | 'readPool'> {
    const base = { master: keyOf(t.cluster.master!), door: this.doorLabel(door, t) };
    if (t.role === 'write') return base;
    const e = readExpectation(t.cluster);
    return { ...base, readTarget: e?.target ?? 'none', readPool: e?.members ?? [] };
  }

  /** A new master (or read pool) not yet checked: pending (not wrong) until the apply had its time. */
  private markPending(t: Target, door: Door): void {
    const route = this.routes[t.role].get(t.cluster.name);
    if (route && routeAbout(route, t.role) === aboutOf(t)) return;
    this.routes[t.role].set(t.cluster.name, { state: 'pending', ...this.routeBase(t, door), checkedAt: null, verifiedAt: null, retries: 0, gaveUp: false });
    this.opts.onChange?.();
  }

  /** Record a verdict; on wrong, apply again (bounded) or report; on a failover's first success, measure it. */
  private conclude(t: Target, verdict: Verdict, door: Door): void {
    const c = t.cluster;
    const read = t.role === 'read';
    const routes = this.routes[t.role];
    const prev = routes.get(c.name);
    const same = prev !== undefined && routeAbout(prev, t.role) === aboutOf(t);
    const now = new Date().toISOString();
    const base = { ...this.routeBase(t, door), checkedAt: now };
    const fields = { output: this.name, cluster: c.name, door: base.door, master: base.master, ...(read ? { doorRole: 'read', readTarget: base.readTarget, readPool: base.readPool } : {}) };
    const again = !read
      ? 'clients reach the confirmed master again'
      : base.readTarget === 'none'
        ? 'the read door refuses again, as it must (no serving replica, ReadFallbackToMaster false)'
        : base.readTarget === 'master'
          ? 'reads reach the confirmed master again (no serving replica, ReadFallbackToMaster)'
          : 'reads reach the read pool again';
    let route: RouteVerification;
    if (verdict.state === 'verified') {
      route = { ...base, state: 'verified', verifiedAt: now, retries: 0, gaveUp: false, ...(verdict.servedBy ? { servedBy: verdict.servedBy } : {}), ...(verdict.refused ? { refused: verdict.refused } : {}) };
      if (same && (prev.state === 'wrong' || prev.state === 'unreachable')) this.log.info(fields, `front-door check: ${again}`);
      const f = read ? undefined : this.failovers.get(c.name);
      if (f && f.master === base.master) {
        this.failovers.delete(c.name);
        const verifiedMs = Date.now() - f.start;
        this.log.info({ ...fields, verifiedMs, from: f.from }, 'failover: clients reach the new master');
        this.opts.onFailoverVerified?.({ output: this.name, cluster: c.name, master: f.at, configEpoch: f.configEpoch, verifiedMs, from: f.from });
      }
    } else if (verdict.state === 'unreachable') {
      let retries = same ? prev.retries : 0;
      let gaveUp = same ? prev.gaveUp : false;
      // Never reached since this route was applied: the apply may not have taken effect (a reload
      // HAProxy dropped, during a crash failover the old backend is dead, so the door answers
      // nothing rather than the wrong instance). Apply again, bounded as for wrong. A route that was
      // verified and then stops answering is left alone: the proxy or the master is down, and a
      // reload would not bring either back. So is a door that refuses, or one the master explains.
      const unproven = (!same || prev.verifiedAt === null) && verdict.applyAgain !== false;
      if (unproven && afterWrong(retries, door.retries, gaveUp) === 'retry') {
        retries++;
        if (this.logLimit.take('unreachable-retry')) this.log.warn({ ...fields, err: verdict.error, retry: retries, of: door.retries }, 'front-door check: nothing answers through the door since the apply; applying again');
        this.scheduleRedo(t, retries);
      } else if (unproven && !gaveUp && retries > 0) {
        gaveUp = true;
      }
      route = { ...base, state: 'unreachable', verifiedAt: same ? prev.verifiedAt : null, error: verdict.error, retries, gaveUp };
      if (!same || prev.state !== 'unreachable') {
        if (this.logLimit.take('unreachable')) this.log.warn({ ...fields, err: verdict.error }, read ? 'front-door check: nothing to compare, reads may not reach the read pool' : 'front-door check: nothing to compare, clients may not reach the master');
      }
    } else {
      this.counters.verifyWrong++;
      let retries = same ? prev.retries : 0;
      let gaveUp = same ? prev.gaveUp : false;
      const action = afterWrong(retries, door.retries, gaveUp);
      const another = read ? 'reads reach an instance outside the read pool' : 'clients reach another instance, not the confirmed master';
      if (action === 'retry') {
        retries++;
        if (this.logLimit.take('wrong')) this.log.warn({ ...fields, reached: verdict.reached, retry: retries, of: door.retries }, `front-door check: ${another}; applying again`);
        this.scheduleRedo(t, retries);
      } else if (action === 'give-up') {
        gaveUp = true;
        const still = read ? 'reads still reach an instance outside the read pool' : 'clients still reach another instance';
        if (this.logLimit.take('gave-up')) this.log.error({ ...fields, reached: verdict.reached, retries }, `front-door check: ${still} after ${retries} applies again; not applying again until the route changes (the confirmed master is unchanged)`);
      }
      route = { ...base, state: 'wrong', verifiedAt: same ? prev.verifiedAt : null, reached: verdict.reached, retries, gaveUp };
    }
    const changed = !prev || prev.state !== route.state || routeAbout(prev, t.role) !== routeAbout(route, t.role) || prev.retries !== route.retries;
    routes.set(c.name, route);
    if (changed) this.opts.onChange?.();
  }

  /**
   * Apply again through the runner after its backoff. Routes found wrong meanwhile (write or read
   * doors, any cluster) join the same re-apply: one reload for many, never one each.
   */
  private scheduleRedo(t: Target, attempt: number): void {
    this.redo.routes.add(targetId(t));
    this.redo.clusters.add(t.cluster.name);
    if (this.redo.timer) return;
    this.redo.timer = setTimeout(() => {
      this.redo.timer = null;
      const clusters = [...this.redo.clusters];
      this.redo.routes.clear();
      this.redo.clusters.clear();
      if (this.closed) return;
      this.counters.verifyReapplies++;
      this.opts.output.forget?.(clusters);
      this.opts.runner.submit(this.opts.snapshot(), []);
    }, this.opts.runner.backoffMs(attempt));
    this.redo.timer.unref();
  }
}
