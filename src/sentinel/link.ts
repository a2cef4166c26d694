import type { ConnectionOptions } from 'node:tls';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { connectWithin, lastConnectionError, openConnection, type ConnectSettings } from './connection.js';
import { parseMastersReply, parsePeersReply, parseReplicasReply, fieldsToRecord, parseMasterRecord, type MasterView, type PeerInfo, type ReplicaInfo } from './parse.js';
import { SentinelState, type SentinelStateValue } from './state.js';
import { joinHostPort } from '../config/address.js';

/** Channels whose messages mean "this master's configuration may have changed: look now". */
// +promoted-slave: the leader saw the replica answer as master, one or two of its 100 ms timer
// ticks before +switch-master; the watcher probes that replica then, so the ROLE answer is in
// before the quorum is (the decision core takes a yes only while it is EARLY_PROBE_MS fresh).
export const WATCHED_CHANNELS = ['+switch-master', '+promoted-slave', '+config-update-from-sentinel', '+failover-end', '+odown', '-odown', '+reset-master'] as const;

/** Channels that tell of a replica (the read pool): read the cluster's replica list again. */
export const REPLICA_CHANNELS = ['+sdown', '-sdown', '+slave', '+convert-to-slave', '+slave-reconf-done'] as const;

export interface LinkListener {
  onState(link: SentinelLink, previous: SentinelStateValue, reason: string): void;
  /** A full SENTINEL MASTERS poll result. */
  onViews(link: SentinelLink, views: MasterView[]): void;
  /** A message on one of WATCHED_CHANNELS or REPLICA_CHANNELS. */
  onMessage(link: SentinelLink, channel: string, payload: string, receivedAt: number): void;
  /** Peers this sentinel lists, per watched master name (arrives before the views of the same poll). */
  onPeers(link: SentinelLink, peersByMaster: Map<string, PeerInfo[]>): void;
  /** True while some cluster is undecided or held: every poll must then be a full one. */
  needsFullPolls(): boolean;
}

/**
 * Longest time between two full SENTINEL MASTERS polls while the cheap one (INFO sentinel) shows
 * no change. A config-epoch can change without the address (a rebuilt group): seen within this.
 */
const FULL_POLL_EVERY_MS = 10_000;

export interface LinkTiming {
  pollIntervalMs: number;
  discoveryIntervalMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
}

/**
 * One sentinel: a command connection (polling, queries) and a subscriber connection (events).
 * Any failure marks it down, closes both and reconnects with exponential backoff and jitter.
 */
export class SentinelLink {
  readonly sentinel: string;
  state: SentinelStateValue = SentinelState.Up;
  lastUpdated = new Date();
  /** Every master name this sentinel monitors (from the last poll). */
  masters: string[] | null = null;
  lastError: string | null = null;
  /** The sentinel's own id (SENTINEL MYID), how its peers list it; null until known. */
  id: string | null = null;
  /** Pub/sub messages received from this sentinel, and how many of them were malformed. */
  messages = 0;
  malformedMessages = 0;
  /** When the last discovery listed this sentinel (discovered sentinels are forgotten after a while). */
  lastListedAt = Date.now();

  private cmd: Redis | null = null;
  private sub: Redis | null = null;
  private generation = 0;
  private timer: NodeJS.Timeout | null = null;
  private attempts = 0;
  /** 0 until the first discovery after a (re)connect, which asks for every cluster at once. */
  private lastDiscovery = 0;
  /**
   * Discovery after the first is spread over the polls: each poll asks a slice of the clusters,
   * sized so that every cluster is still asked once per discoveryIntervalMs (the credit carries
   * the fractions, so with few clusters a poll often asks none).
   */
  private discoveryCredit = 0;
  private discoveryCursor = 0;
  private stopped = false;
  /** The last `INFO sentinel` text (every master's address and status), and when the last full poll ran. */
  private lastInfo: string | null = null;
  private lastFullPoll = 0;
  /** Set when this sentinel refuses INFO (ACL) or answers it oddly: then every poll is full. */
  private infoUnusable = false;
  /** Full polls and cheap polls that found nothing changed (for tests and the bench). */
  fullPolls = 0;
  lightPolls = 0;
  /** Full polls run because INFO sentinel differed from the last full poll's (a change seen cheaply). */
  fullPollsOnChange = 0;

  constructor(
    readonly host: string,
    readonly port: number,
    readonly configured: boolean,
    private readonly settings: ConnectSettings,
    private readonly tls: ConnectionOptions | undefined,
    private readonly timing: LinkTiming,
    private readonly wantedMasters: () => readonly string[],
    private readonly listener: LinkListener,
    private readonly log: Logger,
  ) {
    this.sentinel = joinHostPort(host, port);
  }

  start(): void {
    this.stopped = false;
    void this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.generation++;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.closeConnections();
  }

  /** Ask this sentinel for one master now (used right after an announcement). */
  async queryMaster(name: string): Promise<MasterView | null> {
    const cmd = this.cmd;
    if (!cmd || this.state !== SentinelState.Alive) return null;
    try {
      const reply = await cmd.call('SENTINEL', 'MASTER', name);
      const rec = fieldsToRecord(reply);
      return rec ? parseMasterRecord(rec) : null;
    } catch (err) {
      const msg = (err as Error).message;
      // An unknown master is an answer, not a failure of the sentinel.
      if (/No such master/i.test(msg)) return null;
      this.fail(`SENTINEL MASTER ${name} failed: ${msg}`);
      return null;
    }
  }

  /** The replicas this sentinel knows for one master; null when it cannot say (never fails the link). */
  async queryReplicas(name: string): Promise<ReplicaInfo[] | null> {
    const cmd = this.cmd;
    if (!cmd || this.state !== SentinelState.Alive) return null;
    try {
      return parseReplicasReply(await cmd.call('SENTINEL', 'REPLICAS', name));
    } catch {
      return null;
    }
  }

  /** The replicas of several masters in one pipeline; a name is missing from the result when its answer was unusable. */
  async queryReplicasMany(names: string[]): Promise<Map<string, ReplicaInfo[]>> {
    const out = new Map<string, ReplicaInfo[]>();
    const cmd = this.cmd;
    if (!cmd || this.state !== SentinelState.Alive || names.length === 0) return out;
    try {
      const replies = (await cmd.pipeline(names.map((n) => ['sentinel', 'replicas', n])).exec()) ?? [];
      names.forEach((n, i) => {
        const [err, reply] = replies[i] ?? [new Error('no reply'), null];
        const parsed = err ? null : parseReplicasReply(reply);
        if (parsed) out.set(n, parsed);
      });
    } catch {
      // Never fails the link: replicas are template data, not the master decision.
    }
    return out;
  }

  private setState(next: SentinelStateValue, reason: string): void {
    const previous = this.state;
    this.state = next;
    this.lastUpdated = new Date();
    if (previous !== next) this.listener.onState(this, previous, reason);
  }

  private closeConnections(): void {
    this.cmd?.disconnect();
    this.sub?.disconnect();
    this.cmd = null;
    this.sub = null;
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const gen = ++this.generation;
    this.setState(SentinelState.Unknown, 'connecting');
    const cmd = openConnection(this.host, this.port, this.settings, this.tls);
    const sub = openConnection(this.host, this.port, this.settings, this.tls);
    this.cmd = cmd;
    this.sub = sub;
    try {
      await Promise.all([connectWithin(cmd, this.settings.timeoutMs), connectWithin(sub, this.settings.timeoutMs)]);
      if (gen !== this.generation) return;
      sub.on('message', (channel: string, payload: string) => {
        if (gen === this.generation) this.listener.onMessage(this, channel, payload, Date.now());
      });
      for (const conn of [cmd, sub]) {
        conn.on('close', () => {
          if (gen !== this.generation) return;
          const why = lastConnectionError(conn);
          this.fail(why ? `connection closed: ${why}` : 'connection closed');
        });
      }
      // Two commands, not one of 12 arguments: a server that wants a password answers a client not
      // (yet) logged in that sends more than 10 with "Protocol error: unauthenticated multibulk
      // length" and closes, which would hide the NOAUTH / WRONGPASS the operator needs to see.
      await sub.subscribe(...WATCHED_CHANNELS);
      await sub.subscribe(...REPLICA_CHANNELS);
      if (gen !== this.generation) return;
      this.id = await this.myId(cmd);
      if (gen !== this.generation) return;
      // Discover peers before the first views are reported: the quorum needs the group's size.
      // (That also makes the first poll after any reconnect a full one.)
      this.lastDiscovery = 0;
      this.lastInfo = null;
      await this.poll(gen);
    } catch (err) {
      if (gen === this.generation) this.fail((err as Error).message);
    }
  }

  /**
   * The cheap poll: one bulk string listing every master's address and status. Unchanged since the
   * last full poll means nothing to re-read (the health check is the same round trip). Returns
   * 'unchanged', or the INFO text just read (null when not read) for the full poll to remember.
   */
  private async lightPoll(cmd: Redis): Promise<'unchanged' | string | null> {
    if (this.infoUnusable || this.lastInfo === null || Date.now() - this.lastFullPoll >= FULL_POLL_EVERY_MS) return null;
    if (this.lastDiscovery === 0 || this.listener.needsFullPolls()) return null;
    const info = await this.readInfo(cmd);
    return info !== null && info === this.lastInfo ? 'unchanged' : info;
  }

  private async poll(gen: number): Promise<void> {
    const cmd = this.cmd;
    if (!cmd) return;
    try {
      const light = await this.lightPoll(cmd);
      if (gen !== this.generation) return;
      if (light === 'unchanged') {
        this.lightPolls++;
        this.attempts = 0;
        this.setState(SentinelState.Alive, 'poll succeeded');
        await this.discoverSlice(cmd, gen, this.masters ?? []);
      } else {
        if (light !== null) this.fullPollsOnChange++;
        await this.fullPoll(cmd, gen, light);
      }
    } catch (err) {
      if (gen === this.generation) this.fail((err as Error).message);
      return;
    }
    if (gen !== this.generation || this.stopped) return;
    this.timer = setTimeout(() => void this.poll(gen), this.timing.pollIntervalMs);
  }

  /** SENTINEL MASTERS (and discovery when due); remembers INFO sentinel as it was just before. */
  private async fullPoll(cmd: Redis, gen: number, infoRead: string | null): Promise<void> {
    const info = infoRead ?? (await this.readInfo(cmd));
    if (gen !== this.generation) return;
    const parsed = parseMastersReply(await cmd.call('SENTINEL', 'MASTERS'));
    if (gen !== this.generation) return;
    if (!parsed) throw new Error('SENTINEL MASTERS returned a malformed reply');
    // A sentinel that answers nonsense is not a source of truth: mark it down (logged once).
    if (parsed.malformed > 0) throw new Error(`SENTINEL MASTERS returned ${parsed.malformed} malformed entr${parsed.malformed === 1 ? 'y' : 'ies'}`);
    this.attempts = 0;
    this.lastError = null;
    await this.discoverSlice(cmd, gen, parsed.views.map((v) => v.name));
    if (gen !== this.generation) return;
    this.masters = parsed.views.map((v) => v.name).sort();
    this.lastInfo = info;
    this.lastFullPoll = Date.now();
    this.fullPolls++;
    this.setState(SentinelState.Alive, 'poll succeeded');
    this.listener.onViews(this, parsed.views);
  }

  /**
   * `INFO sentinel`, or null when this sentinel cannot give it: refused (an ACL without INFO) or
   * not in the expected shape mark it unusable, and every poll is a full one from then on. A
   * timeout is thrown: the sentinel is not answering, as for any command.
   */
  private async readInfo(cmd: Redis): Promise<string | null> {
    if (this.infoUnusable) return null;
    let info: unknown;
    try {
      info = await cmd.call('INFO', 'sentinel');
    } catch (err) {
      if (/timed? ?out/i.test((err as Error).message)) throw err;
      this.infoUnusable = true;
      return null;
    }
    if (typeof info === 'string' && /^master\d+:name=/m.test(info)) return info;
    this.infoUnusable = true;
    return null;
  }

  /** SENTINEL SENTINELS for the clusters due (all of them on the first call after a connect). */
  private async discoverSlice(cmd: Redis, gen: number, monitored: readonly string[]): Promise<void> {
    const wanted = new Set(this.wantedMasters());
    // Only follow the clusters we were asked to watch, in a stable order for the cursor.
    const names = monitored.filter((n) => wanted.has(n)).sort();
    const now = Date.now();
    let due: string[];
    if (this.lastDiscovery === 0) {
      due = names;
      this.discoveryCredit = 0;
    } else {
      this.discoveryCredit = Math.min(names.length, this.discoveryCredit + (names.length * (now - this.lastDiscovery)) / this.timing.discoveryIntervalMs);
      const count = Math.floor(this.discoveryCredit);
      this.discoveryCredit -= count;
      due = Array.from({ length: count }, (_, i) => names[(this.discoveryCursor + i) % names.length]!);
      this.discoveryCursor = names.length ? (this.discoveryCursor + count) % names.length : 0;
    }
    this.lastDiscovery = now;
    if (due.length === 0) return;
    // One pipeline: a thousand clusters are one write and one read, not a thousand of each.
    const replies = await cmd.pipeline(due.map((n) => ['sentinel', 'sentinels', n])).exec();
    if (gen !== this.generation) return;
    const peers = new Map<string, PeerInfo[]>();
    due.forEach((n, i) => {
      const [err, reply] = replies?.[i] ?? [new Error('no reply'), null];
      if (err) throw err;
      peers.set(n, parsePeersReply(reply) ?? []);
    });
    this.listener.onPeers(this, peers);
  }

  /** SENTINEL MYID (Redis 6.2+); null when refused, then peers are matched by address only. */
  private async myId(cmd: Redis): Promise<string | null> {
    try {
      const id: unknown = await cmd.call('SENTINEL', 'MYID');
      return typeof id === 'string' && /^[0-9a-f]{40}$/i.test(id) ? id : null;
    } catch {
      return null;
    }
  }

  private fail(reason: string): void {
    if (this.stopped) return;
    this.generation++;
    if (this.timer) clearTimeout(this.timer);
    this.closeConnections();
    this.lastError = reason;
    this.setState(SentinelState.Down, reason);
    const base = Math.min(this.timing.reconnectMaxMs, this.timing.reconnectMinMs * 2 ** this.attempts);
    this.attempts = Math.min(this.attempts + 1, 30);
    const delay = Math.round(base * (0.5 + Math.random() * 0.5));
    this.timer = setTimeout(() => void this.connect(), delay);
  }
}
