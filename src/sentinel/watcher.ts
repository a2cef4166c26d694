import type { ConnectionOptions } from 'node:tls';
import type { Logger } from 'pino';
import type { Config } from '../config/load.js';
import { joinHostPort } from '../config/address.js';
import { LogThrottle } from '../log/throttle.js';
import type { TopologyStore } from '../topology/store.js';
import type { MasterAddress } from '../topology/types.js';
import { probeRole, tlsOptions, type ConnectSettings } from './connection.js';
import { Coalescer } from './coalesce.js';
import { countedGroup, type Env, type SentinelFacts } from './counted.js';
import { initialDecision, step, type ClusterDecision, type Effect, type Input } from './decision.js';
import { reachable, type PeerRef } from './group.js';
import { REPLICA_CHANNELS, SentinelLink, type LinkListener } from './link.js';
import { masterNameOfEvent, parsePromotedReplica, parseSwitchMaster, replicaEventMaster, type MasterView, type PeerInfo } from './parse.js';
import { ReadPools } from './replicas.js';
import { RolePoller } from './role-poller.js';
import { clusterReport, sentinelReport } from './report.js';
import { SentinelState, stateName, type SentinelStateValue } from './state.js';
import type { ClusterQuorumStatus, SentinelStatus, WatcherEvent } from './status.js';

function samePeers(a: readonly PeerRef[] | undefined, b: readonly PeerRef[]): boolean {
  return a !== undefined && a.length === b.length && a.every((r, i) => r.sentinel === b[i]!.sentinel && r.id === b[i]!.id);
}

/**
 * The shell around the decision core (decision.ts): it keeps the links to every sentinel
 * (configured and discovered), turns what they report into inputs, and carries out the effects
 * (queries, ROLE probes, confirmations into the topology store, logs, events). Every decision is
 * the core's; nothing here chooses a master.
 */
export class SentinelWatcher implements LinkListener {
  private links = new Map<string, SentinelLink>();
  /** One decision state per configured cluster: removing a cluster is one delete. */
  private decisions = new Map<string, ClusterDecision>();
  private pendingFirstRound = new Set<string>();
  private reportedDown = new Set<string>();
  private readyWaiters: Array<() => void> = [];
  private sweepTimer: NodeJS.Timeout | null = null;
  private tls: ConnectionOptions | undefined;
  private config: Config;
  private started = false;
  private startedAt = new Date().toISOString();
  private listeners: Array<(e: WatcherEvent) => void> = [];
  private readonly replicas: ReadPools;
  /** SENTINEL MASTER queries after announcements, one in flight per cluster and sentinel. */
  private querying = new Coalescer();
  /** Per sentinel and kind of message: a burst is logged as a few lines and a count. */
  private readonly messageLog = new LogThrottle({
    windowMs: 10000,
    burst: 3,
    onSuppressed: (source, suppressed) => this.log.warn({ source, suppressed, windowMs: 10000 }, 'sentinel messages not logged one by one (too many)'),
  });

  constructor(
    config: Config,
    private readonly topology: TopologyStore,
    private readonly log: Logger,
  ) {
    this.config = config;
    this.tls = tlsOptions(config.Tls);
    const poller = new RolePoller((name) => this.redisSettings(name), () => this.tls);
    this.replicas = new ReadPools(config, topology, { agreeingLinks: (name) => this.agreeingLinks(name) }, poller, log);
    for (const c of config.Clusters) this.decisions.set(c.Name, initialDecision(c.Name));
  }

  onEvent(fn: (e: WatcherEvent) => void): void {
    this.listeners.push(fn);
  }

  private emitEvent(e: Omit<WatcherEvent, 'at'>): void {
    const event = { ...e, at: new Date().toISOString() } as WatcherEvent;
    for (const fn of this.listeners) fn(event);
  }

  start(): void {
    this.started = true;
    this.startedAt = new Date().toISOString();
    for (const s of this.config.Sentinels) this.addLink(s.Host, s.Port, true);
    this.replicas.start();
    this.sweepTimer = setInterval(() => this.sweep(), Math.min(10000, this.config.Watcher.ForgetDownSentinelAfterMs));
    this.sweepTimer.unref();
  }

  /** Resolves once every configured sentinel has answered or failed once and decisions settled. */
  ready(): Promise<void> {
    if (this.isReady()) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  private isReady(): boolean {
    return this.pendingFirstRound.size === 0 && ![...this.decisions.values()].some((d) => d.awaiting);
  }

  private checkReady(): void {
    if (!this.isReady()) return;
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const w of waiters) w();
  }

  async stop(): Promise<void> {
    this.started = false;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.messageLog.flush();
    this.replicas.stop();
    await Promise.all([...this.links.values()].map((l) => l.stop()));
    this.links.clear();
  }

  /**
   * Apply a new configuration (SIGHUP). Links are rebuilt when their connection settings changed.
   * A changed set of configured sentinels is a new source of truth: discovered sentinels stay only
   * if a configured one lists them (directly or through peers), and every cluster re-decides from
   * the new group. A SIGHUP that leaves the sentinels and quorum alone changes no decision.
   */
  async reconfigure(config: Config): Promise<void> {
    const old = this.config;
    const connection = (c: Config) => JSON.stringify([c.SentinelPassword, c.SentinelUsername, c.Tls, c.Watcher, c.SentinelTCPKeepAlive]);
    const own = (c: Config) => new Map(c.Sentinels.map((s) => [joinHostPort(s.Host, s.Port), JSON.stringify([s.Username, s.Password])] as const));
    const [oldOwn, newOwn] = [own(old), own(config)];
    const replaced = [...oldOwn.keys()].sort().join() !== [...newOwn.keys()].sort().join();
    const quorumOf = (c: Config, name: string) => c.Clusters.find((k) => k.Name === name)?.Quorum ?? c.Watcher.Quorum;
    const kept = replaced ? reachable(newOwn.keys(), this.peerLists(), [...this.links.values()].map((l) => ({ sentinel: l.sentinel, id: l.id }))) : null;
    this.config = config;
    this.tls = tlsOptions(config.Tls);
    const names = new Set(config.Clusters.map((c) => c.Name));
    for (const name of [...this.decisions.keys()]) if (!names.has(name)) this.decisions.delete(name);
    for (const name of names) if (!this.decisions.has(name)) this.decisions.set(name, initialDecision(name));
    for (const [sentinel, link] of [...this.links]) {
      const dropped = link.configured ? !newOwn.has(sentinel) : kept !== null && !kept.has(sentinel);
      const credentialsChanged = newOwn.has(sentinel) && oldOwn.get(sentinel) !== newOwn.get(sentinel);
      if (connection(old) !== connection(config) || dropped || credentialsChanged || (newOwn.has(sentinel) && !link.configured)) await this.dropLink(link);
    }
    this.replicas.reconfigure(config);
    if (!this.started) return;
    for (const s of config.Sentinels) this.addLink(s.Host, s.Port, true);
    for (const name of names) this.feed(name, { type: 'configured', sentinelsReplaced: replaced, quorumChanged: quorumOf(old, name) !== quorumOf(config, name) });
    this.checkReady();
  }

  private peerLists(): Array<readonly [string, readonly PeerRef[]]> {
    return [...this.decisions.values()].flatMap((d) => [...d.peers]);
  }

  private async dropLink(link: SentinelLink): Promise<void> {
    await link.stop();
    this.links.delete(link.sentinel);
    this.pendingFirstRound.delete(link.sentinel);
    for (const name of this.decisions.keys()) this.feed(name, { type: 'forget', sentinel: link.sentinel });
  }

  sentinels(): Record<string, SentinelStatus> {
    const clusters = this.config.Clusters.flatMap((c) => {
      const decision = this.decisions.get(c.Name);
      return decision ? [{ name: c.Name, decision, group: this.groupOf(decision), master: this.topology.get(c.Name)?.master ?? null }] : [];
    });
    const out: Record<string, SentinelStatus> = {};
    for (const link of [...this.links.values()].sort((a, b) => (a.sentinel < b.sentinel ? -1 : 1))) out[link.sentinel] = sentinelReport(link, clusters);
    return out;
  }

  /** Quorum, hold and each sentinel's view per cluster (API, metrics, status page). */
  clusterStatus(name: string): ClusterQuorumStatus {
    const decision = this.decisions.get(name) ?? initialDecision(name);
    const alive = (s: string) => this.links.get(s)?.state === SentinelState.Alive;
    return clusterReport(decision, this.groupOf(decision), this.topology.get(name)?.master ?? null, alive, this.startedAt);
  }

  private groupOf(d: ClusterDecision) {
    return countedGroup({ name: d.name, views: d.views, peers: d.peers, anchor: d.master ? d.anchor : [] }, this.env(d.name));
  }

  private env(name: string): Env {
    const sentinels: SentinelFacts[] = [...this.links.values()].map((l) => ({ sentinel: l.sentinel, id: l.id, configured: l.configured, pending: this.pendingFirstRound.has(l.sentinel), alive: l.state === SentinelState.Alive, monitors: l.masters }));
    const quorum = this.config.Clusters.find((c) => c.Name === name)?.Quorum ?? this.config.Watcher.Quorum;
    return { now: Date.now(), sentinels, quorum };
  }

  /** One input to one cluster's core, and its effects carried out. */
  private feed(name: string, input: Input): void {
    const state = this.decisions.get(name);
    if (!state) return;
    const { state: next, effects } = step(state, input, this.env(name));
    this.decisions.set(name, next);
    for (const e of effects) this.carryOut(name, e);
    if (!next.awaiting && state.awaiting) this.checkReady();
  }

  private carryOut(name: string, e: Effect): void {
    switch (e.type) {
      case 'query': {
        const link = this.links.get(e.sentinel);
        if (link) void this.queryCoalesced(name, link);
        return;
      }
      case 'probe': {
        const started = Date.now();
        void this.probe(name, e.target).then((answer) => {
          // Debug only: the failover timeline (docs, bench/README.md "where the time goes") needs when each answer came.
          if (this.log.isLevelEnabled('debug')) this.log.debug({ cluster: name, target: joinHostPort(e.target.ip, e.target.port), role: answer.role, ms: Date.now() - started }, 'ROLE probe answered');
          this.feed(name, { type: 'probe-answer', target: e.target, seq: e.seq, answer });
        });
        return;
      }
      case 'confirm': {
        const change = this.topology.confirm(name, e.master, e.configEpoch, e.agreeing, e.announcedAt);
        if (change) this.emitEvent({ type: 'failover', cluster: name, from: change.previous, to: change.current, configEpoch: change.configEpoch, sinceAnnouncementMs: e.sinceAnnouncementMs, reset: e.kind === 'reset' });
        return;
      }
      case 'hold':
        if (e.fresh) this.emitEvent({ type: 'hold', cluster: name, code: e.code, reason: e.reason });
        return;
      case 'release':
        this.emitEvent({ type: 'hold-released', cluster: name });
        return;
      case 'log':
        this.log[e.level](e.fields, e.msg);
        return;
      case 'refresh-replicas':
        this.replicas.masterChanged(name);
        return;
    }
  }

  private settingsFor(host: string, port: number): ConnectSettings {
    const own = this.config.Sentinels.find((s) => s.Host === host && s.Port === port);
    return {
      credentials: { username: own?.Username ?? this.config.SentinelUsername, password: own?.Password ?? this.config.SentinelPassword },
      tls: this.config.Tls,
      timeoutMs: this.config.Watcher.CommandTimeoutMs,
      keepAliveSeconds: this.config.SentinelTCPKeepAlive,
    };
  }

  private addLink(host: string, port: number, configured: boolean): void {
    const sentinel = joinHostPort(host, port);
    const existing = this.links.get(sentinel);
    if (existing) {
      existing.lastListedAt = Date.now();
      return;
    }
    const w = this.config.Watcher;
    const timing = { pollIntervalMs: w.PollIntervalMs, discoveryIntervalMs: w.DiscoveryIntervalMs, reconnectMinMs: w.ReconnectMinMs, reconnectMaxMs: w.ReconnectMaxMs };
    const link = new SentinelLink(host, port, configured, this.settingsFor(host, port), this.tls, timing, () => this.config.Clusters.map((c) => c.Name), this, this.log);
    this.links.set(sentinel, link);
    if (configured) this.pendingFirstRound.add(sentinel);
    this.log.info({ sentinel, configured }, configured ? 'watching configured sentinel' : 'discovered sentinel, watching it');
    link.start();
  }

  /** Forget discovered sentinels that have been down for long and that no live sentinel lists any more. */
  private sweep(): void {
    const now = Date.now();
    for (const link of [...this.links.values()]) {
      if (link.configured || link.state !== SentinelState.Down) continue;
      if (now - link.lastListedAt < this.config.Watcher.ForgetDownSentinelAfterMs) continue;
      this.log.info({ sentinel: link.sentinel }, 'forgetting discovered sentinel that stayed down and is no longer listed');
      void this.dropLink(link);
    }
  }

  // ---- LinkListener ----

  onState(link: SentinelLink, _previous: SentinelStateValue, reason: string): void {
    const next = link.state;
    if (next === SentinelState.Down) {
      // Logged once per down period, not once per reconnect attempt (no log floods).
      if (!this.reportedDown.has(link.sentinel)) {
        this.reportedDown.add(link.sentinel);
        this.log.warn({ sentinel: link.sentinel, reason, state: stateName[next] }, 'sentinel is down');
        this.emitEvent({ type: 'sentinel-state', sentinel: link.sentinel, state: stateName[next], reason });
      }
      this.pendingFirstRound.delete(link.sentinel);
      for (const name of this.decisions.keys()) this.feed(name, { type: 'sentinel-down', sentinel: link.sentinel });
      this.checkReady();
    } else if (next === SentinelState.Alive) {
      const wasDown = this.reportedDown.delete(link.sentinel);
      this.log.info({ sentinel: link.sentinel, state: stateName[next] }, wasDown ? 'sentinel is back' : 'sentinel is alive');
      this.emitEvent({ type: 'sentinel-state', sentinel: link.sentinel, state: stateName[next] });
    }
  }

  onViews(link: SentinelLink, views: MasterView[]): void {
    // No longer pending before deciding: the group's choice may have been waiting for this answer.
    const first = this.pendingFirstRound.delete(link.sentinel);
    const byName = new Map(views.map((v) => [v.name, v]));
    for (const name of this.decisions.keys()) this.feed(name, { type: 'view', sentinel: link.sentinel, view: byName.get(name) ?? null });
    if (first) this.checkReady();
  }

  needsFullPolls(): boolean {
    if (this.pendingFirstRound.size > 0) return true;
    for (const d of this.decisions.values()) if (!d.master || d.hold || d.awaiting) return true;
    return false;
  }

  onPeers(link: SentinelLink, peersByMaster: Map<string, PeerInfo[]>): void {
    for (const [name, peers] of peersByMaster) {
      if (!this.decisions.has(name)) continue;
      // Watch every listed peer first, so the group counts them as watched sentinels.
      for (const p of peers) this.addLink(p.host, p.port, false);
      const refs = peers.map((p) => ({ sentinel: joinHostPort(p.host, p.port), id: p.id }));
      // The same list as last time decides nothing (the core ignores it too): with 1,000 clusters
      // this is the usual case at every discovery slice, and skipping it saves building the env.
      if (samePeers(this.decisions.get(name)?.peers.get(link.sentinel), refs)) continue;
      this.feed(name, { type: 'peers', sentinel: link.sentinel, peers: refs });
    }
    this.replicas.afterDiscovery(link, peersByMaster.keys());
  }

  onMessage(link: SentinelLink, channel: string, payload: string, receivedAt: number): void {
    link.messages++;
    if ((REPLICA_CHANNELS as readonly string[]).includes(channel)) {
      // About a replica: the read pool's business, never the master decision's. A master's or a
      // sentinel's +sdown is left to the polls, as before.
      const name = replicaEventMaster(payload);
      if (name && this.decisions.has(name)) this.replicas.replicaEvent(link, name);
      return;
    }
    let name: string | null;
    let to: MasterAddress | null = null;
    if (channel === '+switch-master') {
      const ev = parseSwitchMaster(payload);
      if (!ev) {
        link.malformedMessages++;
        if (this.messageLog.take(`${link.sentinel} malformed ${channel}`)) this.log.warn({ sentinel: link.sentinel, channel, payload: payload.slice(0, 200) }, 'ignoring malformed sentinel message');
        return;
      }
      name = ev.name;
      to = { ip: ev.newIp, port: ev.newPort };
      if (this.decisions.has(name)) {
        if (this.messageLog.take(`${link.sentinel} ${channel} ${name}`)) this.log.info({ sentinel: link.sentinel, cluster: name, from: joinHostPort(ev.oldIp, ev.oldPort), to: joinHostPort(ev.newIp, ev.newPort) }, 'sentinel announced +switch-master; confirming');
        this.emitEvent({ type: 'announcement', sentinel: link.sentinel, cluster: name, to: joinHostPort(ev.newIp, ev.newPort) });
      }
    } else if (channel === '+promoted-slave') {
      // Not an announcement of a new master (only a quorum is): the address is only probed early.
      const ev = parsePromotedReplica(payload);
      name = ev?.name ?? masterNameOfEvent(payload);
      if (ev) to = { ip: ev.ip, port: ev.port };
      if (ev && this.decisions.has(ev.name) && this.log.isLevelEnabled('debug')) this.log.debug({ sentinel: link.sentinel, cluster: ev.name, replica: joinHostPort(ev.ip, ev.port) }, 'sentinel promoted a replica; probing it');
    } else {
      name = masterNameOfEvent(payload);
    }
    if (name && this.decisions.has(name)) this.feed(name, { type: 'announced', sentinel: link.sentinel, at: receivedAt, to });
  }

  /**
   * At most one query per cluster and sentinel in flight: messages arriving meanwhile ask for one
   * more, so a burst of announcements costs two queries per sentinel, not one per message, and a
   * hanging sentinel never delays the others.
   */
  private async queryCoalesced(name: string, link: SentinelLink): Promise<void> {
    await this.querying.run(
      `${name} ${link.sentinel}`,
      async () => {
        const started = Date.now();
        const view = await link.queryMaster(name);
        if (view && this.log.isLevelEnabled('debug')) this.log.debug({ cluster: name, sentinel: link.sentinel, master: joinHostPort(view.ip, view.port), configEpoch: view.configEpoch, flags: view.flags.join(','), ms: Date.now() - started }, 'sentinel queried after an announcement');
        if (view && view.name === name) this.feed(name, { type: 'view', sentinel: link.sentinel, view });
      },
      () => this.started,
    );
  }

  private redisSettings(name: string): ConnectSettings {
    const cluster = this.config.Clusters.find((c) => c.Name === name);
    const credentials = { username: cluster?.Username ?? this.config.RedisUsername, password: cluster?.Password ?? this.config.RedisPassword };
    return { credentials, tls: this.config.Tls, timeoutMs: this.config.Watcher.CommandTimeoutMs, keepAliveSeconds: 0 };
  }

  private probe(name: string, target: MasterAddress) {
    return probeRole(target.ip, target.port, this.redisSettings(name), this.tls);
  }

  /**
   * Live sentinels whose latest view names the confirmed master: their replica lists are of the
   * right master. The sentinels that confirmed it come first.
   */
  private agreeingLinks(name: string): SentinelLink[] {
    const master = this.topology.get(name)?.master;
    const decision = this.decisions.get(name);
    if (!master || !decision) return [];
    const first = this.topology.get(name)?.agreeingSentinels ?? [];
    const rank = (s: string) => (first.includes(s) ? first.indexOf(s) : first.length);
    return [...decision.views]
      .filter(([s, v]) => v.ip === master.ip && v.port === master.port && this.links.get(s)?.state === SentinelState.Alive)
      .sort(([a], [b]) => rank(a) - rank(b) || (a < b ? -1 : 1))
      .map(([s]) => this.links.get(s)!);
  }
}
