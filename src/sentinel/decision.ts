import { joinHostPort } from '../config/address.js';
import type { MasterAddress } from '../topology/types.js';
import { chooseMaster, isSettled, sameAddress, type Decision, type HoldCode } from './confirm.js';
import { countedGroup, type CountedGroup, type Env } from './counted.js';
import type { ProbeResult } from './connection.js';
import type { PeerRef } from './group.js';
import type { MasterView } from './parse.js';

/**
 * The decision core: one value per cluster and a pure `step(state, input, env)` that returns the
 * next value and the effects for the shell (watcher.ts) to carry out. It does no I/O and reads no
 * clock but `env.now`, so a schedule of inputs always gives the same effects (the simulation tests
 * replay thousands of them). The rule itself is confirm.ts and group.ts; this is the policy around
 * it: the epoch floor, probing before confirming, the rebuilt-group path, holds and their logs.
 */

/** How long a probe started on an announcement may stand in for one started by the decision. */
export const EARLY_PROBE_MS = 500;

interface ProbeRecord {
  seq: number;
  startedAt: number;
  answer?: ProbeResult;
}

/** A change the rule picked that waits for ROLE probes. */
interface Awaiting {
  target: MasterAddress;
  kind: 'candidate' | 'below-floor';
  /** When the decision started waiting: only probes started since then are its own. */
  since: number;
}

export interface HoldState {
  code: HoldCode;
  reason: string;
  since: string;
  /** Holds of one situation (a failover going through its steps) are logged once. */
  situation: string;
}

export interface ClusterDecision {
  readonly name: string;
  /** The confirmed master, null until the first confirmation. */
  readonly master: MasterAddress | null;
  /** Config-epoch of the confirmed master: a quorum below it is a stale or a rebuilt group. */
  readonly floor: number;
  /** Sentinels that confirmed the master: their group keeps counting (group.ts). */
  readonly anchor: readonly string[];
  /** Each sentinel's latest view of this cluster. */
  readonly views: ReadonlyMap<string, MasterView>;
  /** The peers each sentinel lists for this cluster (SENTINEL SENTINELS). */
  readonly peers: ReadonlyMap<string, readonly PeerRef[]>;
  /** When a sentinel first announced a switch not confirmed yet (ms since epoch). */
  readonly announcedAt: number | null;
  /** The latest ROLE probe per address (host:port). */
  readonly probes: ReadonlyMap<string, ProbeRecord>;
  readonly probeSeq: number;
  readonly awaiting: Awaiting | null;
  readonly hold: HoldState | null;
  /** The sentinels last logged as left out of the group (logged on change only). */
  readonly leftOut: string;
  /** The last view refused for naming another address below the floor (a stale sentinel). */
  readonly staleView: StaleView | null;
}

export interface StaleView {
  sentinel: string;
  ip: string;
  port: number;
  configEpoch: number;
  /** The floor it was below. */
  floor: number;
  at: string;
}

export type Input =
  | { type: 'view'; sentinel: string; view: MasterView | null }
  | { type: 'announced'; sentinel: string; at: number; to: MasterAddress | null }
  | { type: 'sentinel-down'; sentinel: string }
  | { type: 'forget'; sentinel: string }
  | { type: 'peers'; sentinel: string; peers: readonly PeerRef[] }
  | { type: 'probe-answer'; target: MasterAddress; seq: number; answer: ProbeResult }
  | { type: 'configured'; sentinelsReplaced: boolean; quorumChanged: boolean };

export type ConfirmKind = 'first' | 'failover' | 'reset' | 'refresh';

export type Effect =
  | { type: 'query'; sentinel: string }
  | { type: 'probe'; target: MasterAddress; seq: number }
  | { type: 'confirm'; kind: ConfirmKind; master: MasterAddress; previous: MasterAddress | null; configEpoch: number; agreeing: string[]; announcedAt: number | null; sinceAnnouncementMs: number | null }
  | { type: 'hold'; code: HoldCode; reason: string; since: string; fresh: boolean }
  | { type: 'release' }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; msg: string; fields: Record<string, unknown> }
  | { type: 'refresh-replicas' };

export interface Step {
  state: ClusterDecision;
  effects: Effect[];
}

export function initialDecision(name: string): ClusterDecision {
  return { name, master: null, floor: 0, anchor: [], views: new Map(), peers: new Map(), announcedAt: null, probes: new Map(), probeSeq: 0, awaiting: null, hold: null, leftOut: '', staleView: null };
}

type Draft = { -readonly [K in keyof ClusterDecision]: ClusterDecision[K] };

const addr = (a: MasterAddress) => joinHostPort(a.ip, a.port);

function sameView(a: MasterView | undefined, b: MasterView | undefined): boolean {
  if (!a || !b) return a === b;
  return a.ip === b.ip && a.port === b.port && a.configEpoch === b.configEpoch && a.flags.join() === b.flags.join();
}

function without<V>(map: ReadonlyMap<string, V>, key: string): Map<string, V> {
  const next = new Map(map);
  next.delete(key);
  return next;
}

/** Polls repeat the same answer every second: a settled cluster re-decides only when something moved. */
const unsettled = (s: Draft) => !s.master || s.hold !== null || s.awaiting !== null;

export function step(state: ClusterDecision, input: Input, env: Env): Step {
  const s: Draft = { ...state };
  const fx: Effect[] = [];
  switch (input.type) {
    case 'view': {
      const before = s.views.get(input.sentinel);
      const view = input.view ?? undefined;
      if (view) s.views = new Map(s.views).set(input.sentinel, view);
      else if (before) s.views = without(s.views, input.sentinel);
      if (view && !sameView(before, view)) noteStale(s, input.sentinel, view, env, fx);
      if (!sameView(before, view) || unsettled(s)) decide(s, env, fx);
      break;
    }
    case 'announced': {
      if (s.announcedAt === null) s.announcedAt = input.at;
      // Probe the announced address at once, so the answer is there when the views agree.
      if (input.to) {
        const rec = s.probes.get(addr(input.to));
        if (!rec || env.now - rec.startedAt > EARLY_PROBE_MS) startProbe(s, input.to, env, fx);
      }
      // The announcing sentinel first: it holds the new epoch.
      fx.push({ type: 'query', sentinel: input.sentinel });
      for (const o of env.sentinels) if (o.alive && o.sentinel !== input.sentinel) fx.push({ type: 'query', sentinel: o.sentinel });
      break;
    }
    case 'sentinel-down':
      // A down sentinel's view must not count: it may be stale by the time it comes back. Decide
      // again: losing the quorum must show, and a choice of group may have waited for it.
      if (s.views.has(input.sentinel)) s.views = without(s.views, input.sentinel);
      decide(s, env, fx);
      break;
    case 'forget':
      if (s.views.has(input.sentinel)) s.views = without(s.views, input.sentinel);
      if (s.peers.has(input.sentinel)) s.peers = without(s.peers, input.sentinel);
      break;
    case 'peers': {
      const before = s.peers.get(input.sentinel);
      const key = (refs: readonly PeerRef[] | undefined) => refs?.map((r) => `${r.sentinel}/${r.id ?? ''}`).join(',');
      if (key(before) === key(input.peers)) break;
      s.peers = new Map(s.peers).set(input.sentinel, input.peers);
      // The group may have changed; with no view yet there is nothing to decide.
      if (s.views.size > 0) decide(s, env, fx);
      break;
    }
    case 'probe-answer': {
      const key = addr(input.target);
      const rec = s.probes.get(key);
      if (!rec || rec.seq !== input.seq || rec.answer) break; // an older probe of the address: its answer is stale
      s.probes = new Map(s.probes).set(key, { ...rec, answer: input.answer });
      if (s.awaiting) decide(s, env, fx);
      break;
    }
    case 'configured':
      if (input.sentinelsReplaced) {
        // The configuration is the source of truth: the new sentinels are followed from their own
        // epochs, and the old group's anchor no longer chooses the group.
        s.floor = 0;
        s.anchor = [];
        s.awaiting = null;
        const watched = new Set(env.sentinels.map((o) => o.sentinel));
        s.views = new Map([...s.views].filter(([k]) => watched.has(k)));
        s.peers = new Map([...s.peers].filter(([k]) => watched.has(k)));
        fx.push({ type: 'log', level: 'warn', msg: 'sentinels replaced by configuration: following the new group', fields: { cluster: s.name, sentinels: env.sentinels.filter((o) => o.configured).map((o) => o.sentinel), keeping: s.master ? addr(s.master) : null } });
      }
      if (input.sentinelsReplaced || input.quorumChanged) decide(s, env, fx);
      break;
  }
  return { state: s, effects: fx };
}

function startProbe(s: Draft, target: MasterAddress, env: Env, fx: Effect[]): void {
  s.probeSeq += 1;
  s.probes = new Map(s.probes).set(addr(target), { seq: s.probeSeq, startedAt: env.now });
  fx.push({ type: 'probe', target: { ip: target.ip, port: target.port }, seq: s.probeSeq });
}

type Verdict = 'master' | 'not-master' | 'pending';

/**
 * What a decision waiting since `since` knows of `target`'s role. Its own probes (started since)
 * answer both ways. A probe started on the announcement moments ago may say yes; its no may have
 * been asked before the promotion finished, so it is asked again. Anything else is asked anew.
 */
function verdict(s: Draft, target: MasterAddress, since: number, env: Env, fx: Effect[], earlyYes: boolean): Verdict {
  const rec = s.probes.get(addr(target));
  const own = rec !== undefined && rec.startedAt >= since;
  const early = earlyYes && rec !== undefined && env.now - rec.startedAt <= EARLY_PROBE_MS;
  if (rec && (own || early)) {
    if (!rec.answer) return 'pending';
    if (rec.answer.ok) return 'master';
    if (own) return 'not-master';
  }
  startProbe(s, target, env, fx);
  return 'pending';
}

function ruleDecision(s: Draft, g: CountedGroup): Decision {
  if (g.unrelated) {
    const groups = g.unrelated.map((c) => `{${c.join(', ')}}`).join(' and ');
    return { kind: 'none', code: 'unrelated-groups', reason: `the sentinels known for this cluster form ${g.unrelated.length} unrelated groups, ${groups}, with as many configured sentinels in each: nothing tells which one is right; list the sentinels of one group only` };
  }
  if (g.waitingFor.length) return { kind: 'none', code: 'waiting-for-sentinels', reason: `waiting for the first answer of configured sentinel ${g.waitingFor.join(', ')} (it may belong to another sentinel group)` };
  return chooseMaster(g.views, { quorum: g.quorum, minEpoch: s.floor });
}

function decide(s: Draft, env: Env, fx: Effect[]): void {
  const g = countedGroup({ name: s.name, views: s.views, peers: s.peers, anchor: s.master ? s.anchor : [] }, env);
  if (!g.unrelated) logLeftOut(s, g, fx);
  const d = ruleDecision(s, g);
  if (d.kind === 'none') {
    s.awaiting = null;
    const silent = g.silent.length ? `; no view from ${g.silent.join(', ')}` : '';
    const reason = `${d.reason} [quorum ${g.quorum} of ${g.counted.length} sentinels${silent}]`;
    if (g.views.some((v) => !isSettled(v.flags))) hold(s, 'failover-in-progress', `failover in progress, waiting for the sentinels to settle: ${reason}`, 'info', env, fx, 'failover in progress');
    // No view at all is normal while sentinels are down: the last confirmed master is kept.
    else hold(s, d.code, reason, s.master ? 'warn' : 'info', env, fx);
    return;
  }
  const target = addr(d.master);
  const same = sameAddress(d.master, s.master);
  // A quorum raises the floor with no probe; lowering it (a rebuilt group) or moving the traffic
  // needs the instances' own word: the named one answers ROLE master, and for a rebuilt group
  // naming another address the confirmed master must no longer be one.
  if (!same || d.kind === 'below-floor') {
    const kept = s.awaiting && sameAddress(s.awaiting.target, d.master) && s.awaiting.kind === d.kind;
    const since = kept ? s.awaiting!.since : env.now;
    s.awaiting = { target: d.master, kind: d.kind, since };
    const named = verdict(s, d.master, since, env, fx, true);
    const old = !same && d.kind === 'below-floor' && s.master ? verdict(s, s.master, since, env, fx, false) : 'not-master';
    if (named === 'pending' || old === 'pending') return;
    s.awaiting = null;
    if (named === 'not-master') {
      const answer = s.probes.get(target)!.answer!;
      return hold(s, 'probe-failed', `a quorum of sentinels names ${target} (config-epoch ${d.configEpoch}) but it answers ROLE ${answer.role}${answer.error ? ` (${answer.error})` : ''}`, 'warn', env, fx);
    }
    if (old === 'master') {
      return hold(s, 'below-floor', `a quorum (${d.agreeing.join(', ')}) names ${target} at config-epoch ${d.configEpoch}, below the confirmed ${s.floor}, but ${addr(s.master!)} still answers ROLE master`, 'warn', env, fx);
    }
  }
  confirm(s, d, g, env, fx);
}

function confirm(s: Draft, d: Extract<Decision, { kind: 'candidate' | 'below-floor' }>, g: CountedGroup, env: Env, fx: Effect[]): void {
  const previous = s.master;
  const changed = !sameAddress(d.master, previous);
  const kind: ConfirmKind = !changed ? 'refresh' : !previous ? 'first' : d.kind === 'below-floor' ? 'reset' : 'failover';
  const announcedAt = changed ? s.announcedAt : null;
  const sinceAnnouncementMs = announcedAt === null ? null : env.now - announcedAt;
  fx.push({ type: 'confirm', kind, master: { ...d.master }, previous, configEpoch: d.configEpoch, agreeing: d.agreeing, announcedAt, sinceAnnouncementMs });
  const fields = { cluster: s.name, from: previous ? addr(previous) : null, to: addr(d.master), configEpoch: d.configEpoch, agreeingSentinels: d.agreeing, quorum: g.quorum, sinceAnnouncementMs };
  if (kind === 'refresh' && d.kind === 'below-floor') {
    fx.push({ type: 'log', level: 'warn', msg: 'sentinel group names the confirmed master at a lower config-epoch (group rebuilt?): following its epoch', fields: { cluster: s.name, master: addr(d.master), configEpoch: d.configEpoch, previousConfigEpoch: s.floor, agreeingSentinels: d.agreeing } });
  } else if (kind === 'reset') {
    fx.push({ type: 'log', level: 'error', msg: 'SENTINEL GROUP RESET: a quorum names a new master at a lower config-epoch and the old master is no longer one; following it', fields: { ...fields, previousConfigEpoch: s.floor } });
  } else if (kind !== 'refresh') {
    fx.push({ type: 'log', level: 'info', msg: kind === 'failover' ? 'failover: new master confirmed' : 'master confirmed', fields });
  }
  release(s, fx);
  s.awaiting = null;
  s.master = { ...d.master };
  s.floor = d.configEpoch;
  s.anchor = d.agreeing;
  s.announcedAt = null;
  if (changed) fx.push({ type: 'refresh-replicas' });
}

/**
 * Keeps the last confirmed master and says why. The reason shown (API, page) is always the latest;
 * the log and the events get one line per situation, so views changing within one situation (a
 * failover going through its steps) do not repeat it.
 */
function hold(s: Draft, code: HoldCode, reason: string, level: 'info' | 'warn', env: Env, fx: Effect[], situation = reason): void {
  const previous = s.hold;
  if (previous?.reason === reason) return;
  const same = previous !== null && previous.situation === situation;
  const since = same ? previous.since : new Date(env.now).toISOString();
  s.hold = { code, reason, since, situation };
  fx.push({ type: 'hold', code, reason, since, fresh: !same });
  if (!same) fx.push({ type: 'log', level, msg: 'no new master confirmed', fields: { cluster: s.name, code, reason, keeping: s.master ? addr(s.master) : null } });
}

function release(s: Draft, fx: Effect[]): void {
  if (!s.hold) return;
  s.hold = null;
  fx.push({ type: 'release' });
}

/**
 * A sentinel naming another instance at an epoch below the confirmed one is stale (partitioned,
 * paused, or restarted from an old config): said once per view, and kept for the API, so what the
 * floor refused can be seen.
 */
function noteStale(s: Draft, sentinel: string, view: MasterView, env: Env, fx: Effect[]): void {
  if (!s.master || view.configEpoch >= s.floor || sameAddress(view, s.master)) return;
  s.staleView = { sentinel, ip: view.ip, port: view.port, configEpoch: view.configEpoch, floor: s.floor, at: new Date(env.now).toISOString() };
  fx.push({ type: 'log', level: 'info', msg: 'sentinel names an older configuration than the confirmed one: not followed', fields: { cluster: s.name, sentinel, names: addr(view), configEpoch: view.configEpoch, confirmedConfigEpoch: s.floor, keeping: addr(s.master) } });
}

/** Says once per change which sentinels do not count for a cluster, and what they claim. */
function logLeftOut(s: Draft, g: CountedGroup, fx: Effect[]): void {
  const out = g.outside.filter((l) => s.views.has(l));
  const key = out.join(',');
  if (s.leftOut === key) return;
  s.leftOut = key;
  if (out.length === 0) return;
  const claims = out.map((l) => {
    const v = s.views.get(l)!;
    return `${l} names ${joinHostPort(v.ip, v.port)} at epoch ${v.configEpoch}`;
  });
  fx.push({ type: 'log', level: 'warn', msg: "sentinels not in the cluster's sentinel group (they list none of its sentinels and none lists them): not counted for the quorum", fields: { cluster: s.name, sentinels: out, claims } });
}
