import type { ConnectionOptions } from 'node:tls';
import type { Logger } from 'pino';
import type { Config } from '../config/load.js';
import { joinHostPort } from '../config/address.js';
import { LogThrottle } from '../log/throttle.js';
import type { TopologyStore } from '../topology/store.js';
import { chooseMaster, isSettled, quorumFor, sameAddress, type Decision, type SentinelView } from './confirm.js';
import { groupOf, matches, type GroupMember } from './group.js';
import { probeRole, tlsOptions, type ConnectSettings, type ProbeResult } from './connection.js';
import { SentinelLink, type LinkListener } from './link.js';
import { masterNameOfEvent, parseSwitchMaster, type MasterView, type PeerInfo, type ReplicaInfo } from './parse.js';
import { SentinelState, stateName, type SentinelStateValue } from './state.js';

function sameView(a: MasterView | undefined, b: MasterView | undefined): boolean {
  if (!a || !b) return a === b;
  return a.ip === b.ip && a.port === b.port && a.configEpoch === b.configEpoch && a.flags.join() === b.flags.join();
}

export interface SentinelStatus {
  sentinelLocation: string;
  lastUpdated: string;
  clusters: string[] | null;
  state: SentinelStateValue;
  stateName: string;
  configured: boolean;
  lastError: string | null;
  /** The sentinel's own id (SENTINEL MYID), null until known. */
  id: string | null;
  /** Configured clusters for which this sentinel is not in the group (lists no peer, listed by none): its view is not counted. */
  outOfGroup: string[];
  /** Configured clusters for which this sentinel's view names another master than the confirmed one. */
  disagrees: string[];
  /** Pub/sub messages received from this sentinel since it was added, and the malformed ones. */
  messages: number;
  malformedMessages: number;
  /** Polls that read every master (SENTINEL MASTERS), and cheap ones (INFO sentinel) that found nothing changed. */
  fullPolls: number;
  lightPolls: number;
  /** Full polls caused by a change the cheap poll saw. */
  fullPollsOnChange: number;
}

/** One sentinel's latest view of a cluster, for the API and the status page. */
export interface ClusterViewStatus {
  sentinel: string;
  ip: string;
  port: number;
  configEpoch: number;
  flags: string[];
  /** Names the confirmed master. */
  agrees: boolean;
  /** Counted in the cluster's group (false: not listed as a peer by the others, and lists none). */
  inGroup: boolean;
}

/** How the quorum stands for one cluster. */
export interface ClusterQuorumStatus {
  /** Sentinels that must agree. */
  quorum: number;
  /** Sentinels counted for the cluster (configured and discovered, up or down, in the group). */
  knownSentinels: number;
  /** Sentinels of the group whose settled view names the confirmed master. */
  agreeingSentinels: number;
  /** Why no (new) master is confirmed right now, or null. */
  held: { reason: string; since: string } | null;
  views: ClusterViewStatus[];
}

/** The sentinels counted for one cluster, and their usable views. */
interface GroupState {
  quorum: number;
  counted: SentinelLink[];
  countedKeys: Set<string>;
  /** Counted members with no link yet (listed as peers only). */
  listedOnly: string[];
  views: SentinelView[];
  /** Members of the group that have no view (down, or not answering yet). */
  silent: string[];
  /** Members left out of the group (locations). */
  outside: string[];
  /** The known sentinels form unrelated groups and none can be chosen (see group.ts). */
  unrelated: string[][] | null;
  /** Configured sentinels whose first answer the choice of group waits for. */
  waitingFor: string[];
}

/** Something the watcher noticed, for the events log and the status page. */
export interface WatcherEvent {
  type: 'sentinel-state' | 'announcement' | 'failover' | 'hold' | 'hold-released';
  at: string;
  [key: string]: unknown;
}

/** How long an early ROLE probe (started on an announcement) may stand in for one at decision time. */
const EARLY_PROBE_MS = 500;

/**
 * Watches every sentinel (configured and discovered) and decides, per configured cluster, which
 * master is confirmed (see confirm.ts). Only confirmed changes reach the topology store.
 */
export class SentinelWatcher implements LinkListener {
  private links = new Map<string, SentinelLink>();
  /** cluster → sentinel location → that sentinel's latest view. */
  private views = new Map<string, Map<string, MasterView>>();
  private announcedAt = new Map<string, number>();
  private deciding = new Set<string>();
  private dirty = new Set<string>();
  /** Last hold reason per cluster, so a persistent problem is logged once, not every poll. */
  private holdReason = new Map<string, { reason: string; since: string }>();
  /** Per cluster, what kind of hold was last logged (see hold()). */
  private holdSituation = new Map<string, string>();
  /** Per cluster, the sentinels last logged as left out of its group (logged on change only). */
  private leftOut = new Map<string, string>();
  /** cluster → sentinel location → the peers it lists for that cluster (SENTINEL SENTINELS). */
  private peerLists = new Map<string, Map<string, PeerInfo[]>>();
  private pendingFirstRound = new Set<string>();
  private reportedDown = new Set<string>();
  private readyWaiters: Array<() => void> = [];
  private sweepTimer: NodeJS.Timeout | null = null;
  private tls: ConnectionOptions | undefined;
  private config: Config;
  private started = false;
  private startedAt = new Date().toISOString();
  private listeners: Array<(e: WatcherEvent) => void> = [];
  /**
   * cluster → a ROLE probe of the address a sentinel just announced, started at once so that it
   * runs while the other sentinels' views arrive. Used only by a decision within EARLY_PROBE_MS.
   */
  private earlyProbes = new Map<string, { ip: string; port: number; at: number; result: Promise<ProbeResult> }>();
  /** "cluster sentinel" → whether another query was asked for while one was in flight. */
  private querying = new Map<string, boolean>();
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
    this.sweepTimer = setInterval(() => this.sweep(), Math.min(10000, this.config.Watcher.ForgetDownSentinelAfterMs));
    this.sweepTimer.unref();
  }

  /** Resolves once every configured sentinel has answered or failed once and decisions settled. */
  ready(): Promise<void> {
    if (this.isReady()) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  private isReady(): boolean {
    return this.pendingFirstRound.size === 0 && this.deciding.size === 0;
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
    await Promise.all([...this.links.values()].map((l) => l.stop()));
    this.links.clear();
  }

  /** Apply a new configuration (SIGHUP). Links are rebuilt if connection settings changed. */
  async reconfigure(config: Config): Promise<void> {
    const settingsChanged =
      JSON.stringify([config.SentinelPassword, config.SentinelUsername, config.Tls, config.Watcher, config.SentinelTCPKeepAlive]) !==
      JSON.stringify([this.config.SentinelPassword, this.config.SentinelUsername, this.config.Tls, this.config.Watcher, this.config.SentinelTCPKeepAlive]);
    const oldConfigured = new Set(this.config.Sentinels.map((s) => joinHostPort(s.Host, s.Port)));
    // A configured sentinel's own credentials changing means reconnecting to it, as for the globals.
    const ownCredentials = (c: Config) => new Map(c.Sentinels.map((s) => [joinHostPort(s.Host, s.Port), JSON.stringify([s.Username, s.Password])] as const));
    const oldOwn = ownCredentials(this.config);
    const newOwn = ownCredentials(config);
    this.config = config;
    this.tls = tlsOptions(config.Tls);
    const clusterNames = new Set(config.Clusters.map((c) => c.Name));
    for (const name of [...this.views.keys()]) if (!clusterNames.has(name)) this.views.delete(name);
    for (const name of [...this.peerLists.keys()]) if (!clusterNames.has(name)) this.peerLists.delete(name);
    for (const name of [...this.holdReason.keys()]) if (!clusterNames.has(name)) this.holdReason.delete(name);
    const wanted = new Map(config.Sentinels.map((s) => [joinHostPort(s.Host, s.Port), s] as const));
    for (const [location, link] of [...this.links]) {
      const dropped = oldConfigured.has(location) && !wanted.has(location);
      const credentialsChanged = oldOwn.has(location) && newOwn.has(location) && oldOwn.get(location) !== newOwn.get(location);
      if (settingsChanged || dropped || credentialsChanged || (wanted.has(location) && !link.configured)) {
        await link.stop();
        this.links.delete(location);
        this.dropViewsOf(location);
      }
    }
    if (!this.started) return;
    for (const s of config.Sentinels) this.addLink(s.Host, s.Port, true);
    for (const name of clusterNames) void this.decide(name);
  }

  sentinels(): Record<string, SentinelStatus> {
    const out: Record<string, SentinelStatus> = {};
    const groups = this.config.Clusters.map((c) => [c.Name, this.groupFor(c.Name)] as const);
    for (const link of [...this.links.values()].sort((a, b) => (a.location < b.location ? -1 : 1))) {
      const outOfGroup: string[] = [];
      const disagrees: string[] = [];
      for (const [name, g] of groups) {
        const view = this.views.get(name)?.get(link.location);
        if (!view || link.state !== SentinelState.Alive) continue;
        if (!g.counted.includes(link)) outOfGroup.push(name);
        const master = this.topology.get(name)?.master ?? null;
        if (master && isSettled(view.flags) && !sameAddress(master, view)) disagrees.push(name);
      }
      out[link.location] = {
        id: link.id,
        outOfGroup,
        disagrees,
        sentinelLocation: link.location,
        lastUpdated: link.lastUpdated.toISOString(),
        clusters: link.masters,
        state: link.state,
        stateName: stateName[link.state],
        configured: link.configured,
        lastError: link.lastError,
        messages: link.messages,
        malformedMessages: link.malformedMessages,
        fullPolls: link.fullPolls,
        lightPolls: link.lightPolls,
        fullPollsOnChange: link.fullPollsOnChange,
      };
    }
    return out;
  }

  private settingsFor(host: string, port: number): ConnectSettings {
    const own = this.config.Sentinels.find((s) => s.Host === host && s.Port === port);
    return {
      credentials: {
        username: own?.Username ?? this.config.SentinelUsername,
        password: own?.Password ?? this.config.SentinelPassword,
      },
      tls: this.config.Tls,
      timeoutMs: this.config.Watcher.CommandTimeoutMs,
      keepAliveSeconds: this.config.SentinelTCPKeepAlive,
    };
  }

  private addLink(host: string, port: number, configured: boolean): void {
    const location = joinHostPort(host, port);
    const existing = this.links.get(location);
    if (existing) {
      existing.lastListedAt = Date.now();
      return;
    }
    const w = this.config.Watcher;
    const link = new SentinelLink(
      host,
      port,
      configured,
      this.settingsFor(host, port),
      this.tls,
      { pollIntervalMs: w.PollIntervalMs, discoveryIntervalMs: w.DiscoveryIntervalMs, reconnectMinMs: w.ReconnectMinMs, reconnectMaxMs: w.ReconnectMaxMs },
      () => this.config.Clusters.map((c) => c.Name),
      this,
      this.log,
    );
    this.links.set(location, link);
    if (configured) this.pendingFirstRound.add(location);
    this.log.info({ sentinel: location, configured }, configured ? 'watching configured sentinel' : 'discovered sentinel, watching it');
    link.start();
  }

  /** Forget discovered sentinels that have been down for long and that no live sentinel lists any more. */
  private sweep(): void {
    const now = Date.now();
    for (const [location, link] of [...this.links]) {
      if (link.configured || link.state !== SentinelState.Down) continue;
      if (now - link.lastListedAt < this.config.Watcher.ForgetDownSentinelAfterMs) continue;
      this.log.info({ sentinel: location }, 'forgetting discovered sentinel that stayed down and is no longer listed');
      void link.stop();
      this.links.delete(location);
      this.dropViewsOf(location);
      for (const lists of this.peerLists.values()) lists.delete(location);
    }
  }

  private dropViewsOf(location: string): void {
    for (const perSentinel of this.views.values()) perSentinel.delete(location);
  }

  // ---- LinkListener ----

  onState(link: SentinelLink, _previous: SentinelStateValue, reason: string): void {
    const next = link.state;
    if (next === SentinelState.Down) {
      // A down sentinel's view must not count: it may be stale by the time it comes back.
      this.dropViewsOf(link.location);
      // Logged once per down period, not once per reconnect attempt (no log floods).
      if (!this.reportedDown.has(link.location)) {
        this.reportedDown.add(link.location);
        this.log.warn({ sentinel: link.location, reason, state: stateName[next] }, 'sentinel is down');
        this.emitEvent({ type: 'sentinel-state', sentinel: link.location, state: stateName[next], reason });
      }
      // Decide again: a choice of group may have waited for this sentinel's first answer, and losing
      // the quorum must show (held, with the reason) even while the master stays the same.
      for (const c of this.config.Clusters) void this.decide(c.Name);
      if (this.pendingFirstRound.delete(link.location)) this.checkReady();
    } else if (next === SentinelState.Alive) {
      const wasDown = this.reportedDown.delete(link.location);
      this.log.info({ sentinel: link.location, state: stateName[next] }, wasDown ? 'sentinel is back' : 'sentinel is alive');
      this.emitEvent({ type: 'sentinel-state', sentinel: link.location, state: stateName[next] });
    }
  }

  onViews(link: SentinelLink, views: MasterView[]): void {
    // No longer pending before deciding: the group's choice may have been waiting for this answer.
    const first = this.pendingFirstRound.delete(link.location);
    const byName = new Map(views.map((v) => [v.name, v]));
    for (const cluster of this.config.Clusters) {
      let perSentinel = this.views.get(cluster.Name);
      if (!perSentinel) this.views.set(cluster.Name, (perSentinel = new Map()));
      const view = byName.get(cluster.Name);
      const before = perSentinel.get(link.location);
      if (view) perSentinel.set(link.location, view);
      else perSentinel.delete(link.location); // this sentinel does not monitor the cluster
      // Polls repeat the same answer every second: only re-decide when something moved or is unsettled.
      const unchanged = sameView(before, view);
      if (!unchanged || !this.topology.get(cluster.Name)?.master || this.holdReason.has(cluster.Name)) void this.decide(cluster.Name);
    }
    if (first) this.checkReady();
  }

  needsFullPolls(): boolean {
    if (this.holdReason.size > 0 || this.deciding.size > 0 || this.pendingFirstRound.size > 0) return true;
    return this.config.Clusters.some((c) => !this.topology.get(c.Name)?.master);
  }

  onPeers(link: SentinelLink, peersByMaster: Map<string, PeerInfo[]>): void {
    for (const [name, peers] of peersByMaster) {
      if (!this.topology.get(name)) continue;
      let lists = this.peerLists.get(name);
      if (!lists) this.peerLists.set(name, (lists = new Map()));
      lists.set(link.location, peers);
      for (const p of peers) this.addLink(p.host, p.port, false);
    }
    // Replicas are refreshed at the discovery pace, from one agreeing sentinel per cluster, in one batch.
    const mine = [...peersByMaster.keys()].filter((name) => this.topology.get(name)?.master && this.topology.get(name)?.agreeingSentinels[0] === link.location);
    if (mine.length) void link.queryReplicasMany(mine).then((lists) => {
      for (const [name, listed] of lists) this.setReplicasFrom(name, listed);
    });
  }

  private setReplicasFrom(name: string, listed: ReplicaInfo[]): void {
    const master = this.topology.get(name)?.master ?? null;
    if (!master) return;
    const healthy = listed.filter((r) => !r.flags.some((f) => f === 's_down' || f === 'o_down' || f === 'disconnected') && !sameAddress(master, r));
    this.topology.setReplicas(name, healthy.map((r) => ({ ip: r.ip, port: r.port })));
  }

  /**
   * The replicas Sentinel knows for a cluster (template data for read-only backends), from a
   * sentinel that agrees with the confirmed master: healthy ones only, never the master itself.
   */
  private async refreshReplicas(name: string): Promise<void> {
    const cluster = this.topology.get(name);
    if (!cluster?.master) return;
    const link = cluster.agreeingSentinels.map((l) => this.links.get(l)).find((l) => l?.state === SentinelState.Alive);
    const listed = await link?.queryReplicas(name);
    if (listed) this.setReplicasFrom(name, listed);
  }

  onMessage(link: SentinelLink, channel: string, payload: string, receivedAt: number): void {
    let name: string | null;
    link.messages++;
    if (channel === '+switch-master') {
      const ev = parseSwitchMaster(payload);
      if (!ev) {
        link.malformedMessages++;
        if (this.messageLog.take(`${link.location} malformed ${channel}`)) {
          this.log.warn({ sentinel: link.location, channel, payload: payload.slice(0, 200) }, 'ignoring malformed sentinel message');
        }
        return;
      }
      name = ev.name;
      if (this.topology.get(name)) {
        if (!this.announcedAt.has(name)) this.announcedAt.set(name, receivedAt);
        this.probeEarly(name, { ip: ev.newIp, port: ev.newPort });
        if (this.messageLog.take(`${link.location} ${channel} ${name}`)) this.log.info({ sentinel: link.location, cluster: name, from: joinHostPort(ev.oldIp, ev.oldPort), to: joinHostPort(ev.newIp, ev.newPort) }, 'sentinel announced +switch-master; confirming');
        this.emitEvent({ type: 'announcement', sentinel: link.location, cluster: name, to: joinHostPort(ev.newIp, ev.newPort) });
      }
    } else {
      name = masterNameOfEvent(payload);
    }
    if (!name || !this.topology.get(name)) return;
    void this.refresh(name, link);
  }

  /** Re-read one cluster from every live sentinel, the announcing one first (it holds the new epoch). */
  private async refresh(name: string, first: SentinelLink): Promise<void> {
    const apply = (link: SentinelLink, view: MasterView | null) => {
      const perSentinel = this.views.get(name) ?? new Map<string, MasterView>();
      this.views.set(name, perSentinel);
      if (view && view.name === name) perSentinel.set(link.location, view);
      void this.decide(name);
    };
    const others = [...this.links.values()].filter((l) => l !== first && l.state === SentinelState.Alive);
    await Promise.all([first, ...others].map((l) => this.queryCoalesced(name, l, (v) => apply(l, v))));
  }

  /**
   * At most one query per cluster and sentinel in flight: messages arriving meanwhile ask for one
   * more, so a burst of announcements costs two queries per sentinel, not one per message, and a
   * hanging sentinel never delays the others.
   */
  private async queryCoalesced(name: string, link: SentinelLink, apply: (v: MasterView | null) => void): Promise<void> {
    const key = `${name} ${link.location}`;
    if (this.querying.has(key)) {
      this.querying.set(key, true);
      return;
    }
    this.querying.set(key, false);
    try {
      do {
        this.querying.set(key, false);
        apply(await link.queryMaster(name));
      } while (this.querying.get(key) === true && this.started);
    } finally {
      this.querying.delete(key);
    }
  }

  /**
   * The cluster's group (see group.ts): every sentinel known for it, configured or discovered, up or
   * down (a sentinel never reached counts too), one per sentinel id, less those outside the group;
   * and the views of those that are alive.
   */
  private groupFor(name: string): GroupState {
    const lists = this.peerLists.get(name);
    const refsOf = (location: string) => lists?.get(location)?.map((p) => ({ location: joinHostPort(p.host, p.port), id: p.id })) ?? null;
    const alive = (l: SentinelLink) => l.state === SentinelState.Alive;
    const members: GroupMember[] = [];
    const linkOf = new Map<string, SentinelLink>();
    // Alive links first, so a sentinel reached under two addresses is represented by a live one.
    for (const link of [...this.links.values()].sort((a, b) => Number(alive(b)) - Number(alive(a)))) {
      if (link.masters !== null && !link.masters.includes(name)) continue; // does not monitor this cluster
      const key = link.id ?? link.location;
      if (linkOf.has(key)) continue;
      linkOf.set(key, link);
      members.push({ key, location: link.location, id: link.id, listed: refsOf(link.location), configured: link.configured, pending: this.pendingFirstRound.has(link.location) });
    }
    // Peers listed by a member but not watched yet still belong to the group.
    const memberLocations = new Set(members.map((m) => m.location));
    for (const [lister, peers] of lists ?? []) {
      if (!memberLocations.has(lister)) continue;
      for (const p of peers) {
        const ref = { location: joinHostPort(p.host, p.port), id: p.id };
        if (members.some((m) => matches(ref, m)) || [...this.links.values()].some((l) => matches(ref, l))) continue;
        members.push({ key: ref.id ?? ref.location, location: ref.location, id: ref.id, listed: null });
      }
    }
    const confirmed = this.topology.get(name);
    const group = groupOf(members, { anchor: confirmed?.master ? confirmed.agreeingSentinels : [] });
    const countedKeys = new Set(group.counted);
    const counted: SentinelLink[] = [];
    const listedOnly: string[] = [];
    for (const m of members) {
      if (!countedKeys.has(m.key)) continue;
      const link = linkOf.get(m.key);
      if (link) counted.push(link);
      else listedOnly.push(m.location);
    }
    const perSentinel = this.views.get(name);
    const views: SentinelView[] = [];
    const silent: string[] = [...listedOnly];
    for (const link of counted) {
      const v = alive(link) ? perSentinel?.get(link.location) : undefined;
      if (v) views.push({ sentinel: link.location, ip: v.ip, port: v.port, configEpoch: v.configEpoch, flags: v.flags });
      else silent.push(link.location);
    }
    const setting = this.config.Clusters.find((c) => c.Name === name)?.Quorum ?? this.config.Watcher.Quorum;
    const outside = members.filter((m) => group.outside.includes(m.key)).map((m) => m.location);
    return { quorum: quorumFor(setting, group.counted.length), counted, countedKeys, listedOnly, views, silent, outside, unrelated: group.unrelated, waitingFor: group.waitingFor };
  }

  /** Quorum, hold reason and each sentinel's view per cluster (API, metrics, status page). */
  clusterStatus(name: string): ClusterQuorumStatus {
    const g = this.groupFor(name);
    const master = this.topology.get(name)?.master ?? null;
    const views: ClusterViewStatus[] = [];
    for (const [location, v] of this.views.get(name) ?? []) {
      const link = this.links.get(location);
      if (!link || link.state !== SentinelState.Alive) continue;
      views.push({ sentinel: location, ip: v.ip, port: v.port, configEpoch: v.configEpoch, flags: [...v.flags], agrees: sameAddress(master, v), inGroup: g.counted.includes(link) });
    }
    views.sort((a, b) => (a.sentinel < b.sentinel ? -1 : 1));
    const held = this.holdReason.get(name) ?? (master ? null : { reason: 'no master confirmed yet', since: this.startedAt });
    return {
      quorum: g.quorum,
      knownSentinels: g.countedKeys.size,
      agreeingSentinels: g.views.filter((v) => isSettled(v.flags) && sameAddress(master, v)).length,
      held,
      views,
    };
  }

  /**
   * Keeps the last confirmed master and says why. The reason shown (API, page) is always the latest;
   * the log and the events get one line per situation, so views changing within one situation (a
   * failover going through its steps) do not repeat it.
   */
  private hold(name: string, reason: string, level: 'info' | 'warn', situation = reason): void {
    const previous = this.holdReason.get(name);
    if (previous?.reason === reason) return;
    const same = this.holdSituation.get(name) === situation && previous !== undefined;
    this.holdReason.set(name, { reason, since: same ? previous.since : new Date().toISOString() });
    this.holdSituation.set(name, situation);
    if (same) return;
    const current = this.topology.get(name)?.master;
    this.log[level]({ cluster: name, reason, keeping: current ? joinHostPort(current.ip, current.port) : null }, 'no new master confirmed');
    this.emitEvent({ type: 'hold', cluster: name, reason });
  }

  private release(name: string): void {
    this.holdSituation.delete(name);
    if (this.holdReason.delete(name)) this.emitEvent({ type: 'hold-released', cluster: name });
  }

  /** Serialised per cluster: a decision arriving while one runs re-runs once it ends. */
  private async decide(name: string): Promise<void> {
    if (this.deciding.has(name)) {
      this.dirty.add(name);
      return;
    }
    this.deciding.add(name);
    try {
      do {
        this.dirty.delete(name);
        await this.decideOnce(name);
      } while (this.dirty.has(name) && this.started);
    } catch (err) {
      this.log.error({ cluster: name, err }, 'error while deciding the master');
    } finally {
      this.deciding.delete(name);
      this.checkReady();
    }
  }

  private decision(name: string, floor: number): { d: Decision; g: GroupState } {
    const g = this.groupFor(name);
    // With unrelated groups and no choice, the hold reason says it all.
    if (!g.unrelated) this.logLeftOut(name, g);
    if (g.unrelated) {
      const groups = g.unrelated.map((c) => `{${c.join(', ')}}`).join(' and ');
      return { d: { kind: 'none', reason: `the sentinels known for this cluster form ${g.unrelated.length} unrelated groups, ${groups}, with as many configured sentinels in each: nothing tells which one is right; list the sentinels of one group only` }, g };
    }
    if (g.waitingFor.length) return { d: { kind: 'none', reason: `waiting for the first answer of configured sentinel ${g.waitingFor.join(', ')} (it may belong to another sentinel group)` }, g };
    return { d: chooseMaster(g.views, { quorum: g.quorum, minEpoch: floor }), g };
  }

  /** Says once per change which sentinels do not count for a cluster, and what they claim. */
  private logLeftOut(name: string, g: GroupState): void {
    const out = g.outside.filter((l) => this.views.get(name)?.has(l));
    const key = out.join(',');
    if ((this.leftOut.get(name) ?? '') === key) return;
    this.leftOut.set(name, key);
    if (out.length === 0) return;
    const claims = out.map((l) => {
      const v = this.views.get(name)!.get(l)!;
      return `${l} names ${joinHostPort(v.ip, v.port)} at epoch ${v.configEpoch}`;
    });
    this.log.warn({ cluster: name, sentinels: out, claims }, "sentinels not in the cluster's sentinel group (they list none of its sentinels and none lists them): not counted for the quorum");
  }

  private probe(name: string, target: { ip: string; port: number }) {
    const cluster = this.config.Clusters.find((c) => c.Name === name);
    return probeRole(target.ip, target.port, {
      credentials: { username: cluster?.Username ?? this.config.RedisUsername, password: cluster?.Password ?? this.config.RedisPassword },
      tls: this.config.Tls,
      timeoutMs: this.config.Watcher.CommandTimeoutMs,
      keepAliveSeconds: 0,
    }, this.tls);
  }

  /** One early probe per cluster at a time: a flood of announcements costs one connection. */
  private probeEarly(name: string, target: { ip: string; port: number }): void {
    const previous = this.earlyProbes.get(name);
    if (previous && Date.now() - previous.at <= EARLY_PROBE_MS) return;
    const result = this.probe(name, target);
    this.earlyProbes.set(name, { ...target, at: Date.now(), result });
  }

  /**
   * The ROLE answer of `target` now: a yes from an early probe of the same address started moments
   * ago (after the announcement, so after Sentinel promoted it) counts; anything else is asked again.
   */
  private probeForDecision(name: string, target: { ip: string; port: number }): Promise<ProbeResult> {
    const early = this.earlyProbes.get(name);
    this.earlyProbes.delete(name);
    if (!early || !sameAddress(early, target) || Date.now() - early.at > EARLY_PROBE_MS) return this.probe(name, target);
    // Only a yes is kept: an early no (asked before the promotion finished) is asked again.
    return early.result.then((r) => (r.ok ? r : this.probe(name, target)));
  }

  private async decideOnce(name: string): Promise<void> {
    const current = this.topology.get(name);
    if (!current) return;
    const floor = current.configEpoch ?? 0;
    const { d: decision, g } = this.decision(name, floor);
    if (decision.kind === 'none') {
      const silent = g.silent.length ? `; no view from ${g.silent.join(', ')}` : '';
      const reason = `${decision.reason} [quorum ${g.quorum} of ${g.countedKeys.size} sentinels${silent}]`;
      // Sentinels marking the master down or failing over: a failover going through its steps, said once (info).
      if (g.views.some((v) => !isSettled(v.flags))) this.hold(name, `failover in progress, waiting for the sentinels to settle: ${reason}`, 'info', 'failover in progress');
      // No sentinel view at all is normal while sentinels are down: keep the last confirmed master.
      else this.hold(name, reason, current.master ? 'warn' : 'info');
      return;
    }
    const target = joinHostPort(decision.master.ip, decision.master.port);
    if (sameAddress(decision.master, current.master)) {
      // A quorum raises the floor; a quorum of a rebuilt group (lower epoch) naming our master lowers it.
      if (decision.kind === 'below-floor') {
        this.log.warn({ cluster: name, master: target, configEpoch: decision.configEpoch, previousConfigEpoch: floor, agreeingSentinels: decision.agreeing }, 'sentinel group names the confirmed master at a lower config-epoch (group rebuilt?): following its epoch');
      }
      this.topology.confirm(name, decision.master, decision.configEpoch, decision.agreeing, null);
      this.release(name);
      this.announcedAt.delete(name);
      return;
    }
    const probe = await this.probeForDecision(name, decision.master);
    if (!probe.ok) {
      this.hold(name, `a quorum of sentinels names ${target} (config-epoch ${decision.configEpoch}) but it answers ROLE ${probe.role}${probe.error ? ` (${probe.error})` : ''}`, 'warn');
      return;
    }
    if (decision.kind === 'below-floor' && current.master) {
      // A reset is told apart from stale views by the instances themselves: the confirmed master
      // must no longer be one (a replica now, or gone).
      const old = await this.probe(name, current.master);
      if (old.ok) {
        const was = joinHostPort(current.master.ip, current.master.port);
        this.hold(name, `a quorum (${decision.agreeing.join(', ')}) names ${target} at config-epoch ${decision.configEpoch}, below the confirmed ${floor}, but ${was} still answers ROLE master`, 'warn');
        return;
      }
    }
    // Views may have moved on while we probed; only confirm what the rule still picks.
    const { d: again } = this.decision(name, floor);
    if (again.kind === 'none' || again.kind !== decision.kind || !sameAddress(again.master, decision.master)) {
      this.dirty.add(name);
      return;
    }
    const announcedAt = this.announcedAt.get(name) ?? null;
    const change = this.topology.confirm(name, again.master, again.configEpoch, again.agreeing, announcedAt);
    this.release(name);
    this.announcedAt.delete(name);
    if (change) {
      const sinceAnnouncementMs = announcedAt === null ? null : Date.now() - announcedAt;
      const fields = {
        cluster: name,
        from: change.previous ? joinHostPort(change.previous.ip, change.previous.port) : null,
        to: joinHostPort(change.current.ip, change.current.port),
        configEpoch: change.configEpoch,
        agreeingSentinels: again.agreeing,
        quorum: g.quorum,
        sinceAnnouncementMs,
      };
      if (again.kind === 'below-floor') this.log.error({ ...fields, previousConfigEpoch: floor }, 'SENTINEL GROUP RESET: a quorum names a new master at a lower config-epoch and the old master is no longer one; following it');
      else this.log.info(fields, change.previous ? 'failover: new master confirmed' : 'master confirmed');
      this.emitEvent({ type: 'failover', cluster: name, from: change.previous, to: change.current, configEpoch: change.configEpoch, sinceAnnouncementMs, reset: again.kind === 'below-floor' });
      void this.refreshReplicas(name);
    }
  }
}
