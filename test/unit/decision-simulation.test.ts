import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isSettled, isPlaceholder, sameAddress } from '../../src/sentinel/confirm.js';
import { countedGroup, type Env, type SentinelFacts } from '../../src/sentinel/counted.js';
import { initialDecision, step, type ClusterDecision, type Effect, type Input } from '../../src/sentinel/decision.js';
import type { PeerRef } from '../../src/sentinel/group.js';
import type { MasterAddress } from '../../src/topology/types.js';

/**
 * Simulation of the decision core: fast-check generates schedules of inputs (announcements in any
 * order and repeated, late views, probes answering after the views moved, sentinels dropping in
 * the middle of a decision, SIGHUPs, rebuilt groups, a rogue group, stale epochs) and every step is
 * checked against the safety invariants, with oracles written here rather than taken from the core.
 */

const CLUSTER = 'c';
const ADDRS: MasterAddress[] = [{ ip: '10.0.0.1', port: 6379 }, { ip: '10.0.0.2', port: 6379 }, { ip: '10.0.0.3', port: 6379 }, { ip: '0.0.0.0', port: 6379 }];
/** s1-s4 are one group (s4 discovered), s1b is s1 under another address, r1/r2 another deployment's group. */
const SENTINELS = ['s1:1', 's2:1', 's3:1', 's4:1', 's1b:1', 'r1:1', 'r2:1'];
const IDS: Record<string, string> = { 's1:1': 'id1', 's1b:1': 'id1', 's2:1': 'id2', 's3:1': 'id3', 's4:1': 'id4', 'r1:1': 'idr1', 'r2:1': 'idr2' };
const ref = (s: string): PeerRef => ({ sentinel: s, id: IDS[s] ?? null });
const PEER_LISTS: PeerRef[][] = [['s2:1', 's3:1', 's4:1'], ['s1:1', 's3:1'], ['s1:1', 's2:1', 's4:1'], ['r2:1'], ['r1:1'], []].map((l) => l.map(ref));
/** What each sentinel lists when it comes up (an index into PEER_LISTS). */
const NATURAL_PEERS = [0, 1, 2, 1, 0, 3, 4];
const FLAGS = [[], [], [], ['o_down'], ['failover_in_progress'], ['promoted'], ['s_down']];

type Command =
  /** A sentinel's view: mostly the truth, sometimes the previous one (late, stale), unsettled, or anything. */
  | { c: 'view'; s: number; kind: number; a: number; epoch: number; flags: number }
  | { c: 'no-view'; s: number }
  /** A poll round: every live sentinel reports, each view chosen as for 'view'. */
  | { c: 'round'; kinds: number[] }
  | { c: 'announce'; s: number; a: number | null }
  | { c: 'down'; s: number }
  | { c: 'up'; s: number }
  | { c: 'peers'; s: number; list: number }
  /** Answer an outstanding probe: mostly as the instance really is, sometimes anything. */
  | { c: 'answer'; k: number; truthful: boolean; ok: boolean }
  /** Sentinel fails the master over (epoch + 1), or a rebuilt group starts again at a low epoch. */
  | { c: 'failover'; a: number; rebuilt: boolean }
  /** replace: 0 keeps the sentinels, 1 configures s1-s3, 2 only r1 (another deployment), 3 s1 and r1 (a tie). */
  | { c: 'sighup'; replace: number; quorum: number }
  | { c: 'forget'; s: number }
  | { c: 'time'; ms: number }
  /** A whole failover as Sentinel runs it: the switch, an announcement, views, the probes answered. */
  | { c: 'story'; a: number; rebuilt: boolean; by: number };

const s = fc.integer({ min: 0, max: SENTINELS.length - 1 });
const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 10, arbitrary: fc.record({ c: fc.constant('view' as const), s, kind: fc.integer({ min: 0, max: 9 }), a: fc.integer({ min: 0, max: 3 }), epoch: fc.integer({ min: 0, max: 6 }), flags: fc.integer({ min: 0, max: FLAGS.length - 1 }) }) },
  { weight: 1, arbitrary: fc.record({ c: fc.constant('no-view' as const), s }) },
  { weight: 6, arbitrary: fc.record({ c: fc.constant('round' as const), kinds: fc.array(fc.integer({ min: 0, max: 9 }), { minLength: SENTINELS.length, maxLength: SENTINELS.length }) }) },
  { weight: 2, arbitrary: fc.record({ c: fc.constant('announce' as const), s, a: fc.option(fc.integer({ min: 0, max: 2 }), { nil: null }) }) },
  { weight: 1, arbitrary: fc.record({ c: fc.constant('down' as const), s }) },
  { weight: 3, arbitrary: fc.record({ c: fc.constant('up' as const), s }) },
  { weight: 1, arbitrary: fc.record({ c: fc.constant('peers' as const), s, list: fc.integer({ min: 0, max: PEER_LISTS.length - 1 }) }) },
  { weight: 6, arbitrary: fc.record({ c: fc.constant('answer' as const), k: fc.nat(), truthful: fc.integer({ min: 0, max: 3 }).map((n) => n > 0), ok: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ c: fc.constant('failover' as const), a: fc.integer({ min: 0, max: 2 }), rebuilt: fc.integer({ min: 0, max: 3 }).map((n) => n === 0) }) },
  { weight: 1, arbitrary: fc.record({ c: fc.constant('sighup' as const), replace: fc.integer({ min: 0, max: 6 }).map((n) => Math.max(0, n - 3)), quorum: fc.integer({ min: 0, max: 5 }).map((n) => Math.max(0, n - 2)) }) },
  { weight: 1, arbitrary: fc.record({ c: fc.constant('forget' as const), s }) },
  { weight: 2, arbitrary: fc.record({ c: fc.constant('time' as const), ms: fc.integer({ min: 0, max: 1500 }) }) },
  { weight: 3, arbitrary: fc.record({ c: fc.constant('story' as const), a: fc.integer({ min: 0, max: 2 }), rebuilt: fc.integer({ min: 0, max: 3 }).map((n) => n === 0), by: fc.integer({ min: 0, max: 2 }) }) },
);

/** Commands made of several (a story), so that each part's inputs are made when it is its turn. */
function expand(cmd: Command): Command[] {
  if (cmd.c !== 'story') return [cmd];
  const truth = { c: 'round' as const, kinds: SENTINELS.map(() => 0) };
  const answer = { c: 'answer' as const, k: 0, truthful: true, ok: false };
  return [{ c: 'failover', a: cmd.a, rebuilt: cmd.rebuilt }, { c: 'announce', s: cmd.by, a: cmd.a }, truth, answer, answer, truth, answer];
}

/** Every schedule starts with the group up and its peers known, as after a daemon start. */
const PROLOGUE: Command[] = [0, 1, 2].map((i): Command => ({ c: 'up', s: i }));

/** The world the schedule plays in: what the shell would know, and the probes it was asked for. */
class World {
  now = 1_000_000;
  facts = new Map<string, SentinelFacts>(SENTINELS.map((x, i) => [x, { sentinel: x, id: IDS[x] ?? null, configured: i < 3, pending: i < 3, alive: false, monitors: null }]));
  quorum: number | 'majority' = 'majority';
  outstanding: Array<{ target: MasterAddress; seq: number }> = [];
  /** Per address, the answer of the latest-started probe answered so far (by sequence number). */
  answered = new Map<string, { seq: number; ok: boolean }>();
  state: ClusterDecision = initialDecision(CLUSTER);
  /** What the real sentinel group says now, and what it said before the last failover. */
  truth = { a: 0, epoch: 1 };
  previous = { a: 0, epoch: 1 };
  /** Whether each instance answers ROLE master now. */
  isMaster = (a: MasterAddress) => sameAddress(a, ADDRS[this.truth.a]!);

  env(): Env {
    return { now: this.now, sentinels: [...this.facts.values()], quorum: this.quorum };
  }

  fact(i: number): SentinelFacts {
    return this.facts.get(SENTINELS[i]!)!;
  }

  /** Turn a command into the input the shell would give (or none), updating the facts as the shell does. */
  inputs(cmd: Exclude<Command, { c: 'story' }>): Input[] {
    if (cmd.c === 'round') return SENTINELS.flatMap((_, i) => this.inputs({ c: 'view', s: i, kind: cmd.kinds[i]!, a: i % 4, epoch: i % 7, flags: (i * 3) % FLAGS.length }));
    const one = this.input(cmd);
    return one ? [one] : [];
  }

  private input(cmd: Exclude<Command, { c: 'round' | 'story' }>): Input | null {
    switch (cmd.c) {
      case 'view': {
        const f = this.fact(cmd.s);
        if (!f.alive) return null;
        f.pending = false;
        f.monitors = [CLUSTER];
        const rogue = f.sentinel.startsWith('r');
        const said = rogue ? { a: 2, epoch: 50 } : cmd.kind < 7 ? this.truth : cmd.kind < 8 ? this.previous : { a: cmd.a, epoch: cmd.epoch };
        const flags = cmd.kind === 8 || cmd.kind === 9 ? FLAGS[cmd.flags]! : [];
        const a = ADDRS[said.a]!;
        return { type: 'view', sentinel: f.sentinel, view: { name: CLUSTER, ip: a.ip, port: a.port, configEpoch: said.epoch, flags } };
      }
      case 'no-view': {
        const f = this.fact(cmd.s);
        if (!f.alive) return null;
        f.pending = false;
        return { type: 'view', sentinel: f.sentinel, view: null };
      }
      case 'announce': {
        const f = this.fact(cmd.s);
        return f.alive ? { type: 'announced', sentinel: f.sentinel, at: this.now, to: cmd.a === null ? null : ADDRS[cmd.a]! } : null;
      }
      case 'down': {
        const f = this.fact(cmd.s);
        f.alive = false;
        f.pending = false;
        return { type: 'sentinel-down', sentinel: f.sentinel };
      }
      case 'up': {
        const f = this.fact(cmd.s);
        if (f.alive) return null;
        f.alive = true;
        return { type: 'peers', sentinel: f.sentinel, peers: PEER_LISTS[NATURAL_PEERS[cmd.s]!]! };
      }
      case 'peers': {
        const f = this.fact(cmd.s);
        return f.alive ? { type: 'peers', sentinel: f.sentinel, peers: PEER_LISTS[cmd.list]! } : null;
      }
      case 'answer': {
        if (this.outstanding.length === 0) return null;
        const [p] = this.outstanding.splice(cmd.k % this.outstanding.length, 1);
        const ok = cmd.truthful ? this.isMaster(p!.target) : cmd.ok;
        const key = `${p!.target.ip}:${p!.target.port}`;
        if ((this.answered.get(key)?.seq ?? -1) < p!.seq) this.answered.set(key, { seq: p!.seq, ok });
        return { type: 'probe-answer', target: p!.target, seq: p!.seq, answer: { ok, role: ok ? 'master' : 'slave' } };
      }
      case 'sighup': {
        const quorum = cmd.quorum === 0 ? 'majority' : cmd.quorum;
        const quorumChanged = quorum !== this.quorum;
        this.quorum = quorum;
        const sets = [[], ['s1:1', 's2:1', 's3:1'], ['r1:1'], ['s1:1', 'r1:1']];
        const wanted = new Set(sets[cmd.replace]);
        const replaced = cmd.replace > 0 && [...this.facts.values()].some((f) => f.configured !== wanted.has(f.sentinel));
        if (replaced) {
          for (const f of this.facts.values()) {
            f.configured = wanted.has(f.sentinel);
            f.pending = f.configured;
          }
        }
        return { type: 'configured', sentinelsReplaced: replaced, quorumChanged };
      }
      case 'forget': {
        const f = this.fact(cmd.s);
        return f.configured ? null : { type: 'forget', sentinel: f.sentinel };
      }
      case 'failover':
        this.previous = this.truth;
        this.truth = cmd.rebuilt ? { a: cmd.a, epoch: 0 } : { a: cmd.a, epoch: this.truth.epoch + 1 };
        return null;
      case 'time':
        this.now += cmd.ms;
        return null;
    }
  }

  latestSaysMaster(a: MasterAddress): boolean | undefined {
    return this.answered.get(`${a.ip}:${a.port}`)?.ok;
  }
}

/** Quorum as configured, computed here rather than by the core. */
const quorumOf = (setting: number | 'majority', counted: number) => (setting === 'majority' ? Math.floor(Math.max(counted, 1) / 2) + 1 : setting);

function checkStep(w: World, before: ClusterDecision, input: Input, after: ClusterDecision, effects: Effect[], env: Env): void {
  // (5) every input is answered by a finite, small set of effects.
  assert.ok(effects.length <= SENTINELS.length + 8, `too many effects (${effects.length}) for ${input.type}`);
  for (const e of effects) {
    if (e.type !== 'confirm') continue;
    // (1) a quorum of the counted group names the confirmed address at the confirmed epoch.
    // A configuration that replaces the sentinels also drops the anchor (the old group's).
    const replaced = input.type === 'configured' && input.sentinelsReplaced;
    const g = countedGroup({ name: CLUSTER, views: after.views, peers: after.peers, anchor: before.master && !replaced ? before.anchor : [] }, env);
    const alive = new Set(env.sentinels.filter((f) => f.alive).map((f) => f.sentinel));
    const naming = [...after.views].filter(([x, v]) => alive.has(x) && g.countedSentinels.has(x) && isSettled(v.flags) && !isPlaceholder(v.ip, v.port) && sameAddress(v, e.master) && v.configEpoch === e.configEpoch);
    assert.ok(naming.length >= quorumOf(env.quorum, g.counted.length), `confirmed ${e.master.ip} at epoch ${e.configEpoch} with ${naming.length} of ${g.counted.length} counted sentinels naming it`);
    // (2) never confirm, as a change or a lower floor, an address whose latest probe said it is not a master.
    const moves = e.kind !== 'refresh' || e.configEpoch < before.floor;
    if (moves) assert.equal(w.latestSaysMaster(e.master), true, `confirmed ${e.master.ip} (${e.kind}) without its latest probe saying master`);
    if (e.kind === 'reset') assert.equal(w.latestSaysMaster(e.previous!), false, 'followed a rebuilt group while the old master still answered (or was not asked)');
  }
  // (3) the floor goes down only through the rebuilt-group path or a configuration change.
  if (after.floor < before.floor) {
    const lowered = effects.some((e) => e.type === 'confirm' && e.configEpoch === after.floor && (e.kind === 'reset' || e.kind === 'refresh'));
    const replaced = input.type === 'configured' && input.sentinelsReplaced;
    assert.ok(lowered || replaced, `floor went down from ${before.floor} to ${after.floor} on ${input.type}`);
  }
  // (4) a held cluster keeps its last master; the master moves only by a confirmation.
  if (effects.some((e) => e.type === 'hold')) assert.deepEqual(after.master, before.master, 'a hold changed the master');
  if (!sameAddress(after.master, before.master) && !(after.master === null && before.master === null)) {
    assert.ok(effects.some((e) => e.type === 'confirm' && sameAddress(e.master, after.master)), 'the master changed without a confirmation');
  }
  // A decision waiting for probes always has one of them in flight (it cannot wait forever).
  if (after.awaiting) {
    const inFlight = w.outstanding.some((p) => sameAddress(p.target, after.awaiting!.target) || sameAddress(p.target, before.master));
    assert.ok(inFlight, 'a decision waits for a probe nobody runs');
  }
}

/** What the schedules reached, so a test that never confirms anything cannot pass unseen. */
const reached = new Map<string, number>();
const count = (what: string) => reached.set(what, (reached.get(what) ?? 0) + 1);

function run(commands: Command[]): void {
  const w = new World();
  // Each command's inputs are made just before they are fed: the world moves with the effects.
  for (const cmd of [...PROLOGUE, ...commands].flatMap(expand)) {
    for (const input of w.inputs(cmd as Exclude<Command, { c: 'story' }>)) {
      const env = w.env();
      const before = w.state;
      const { state, effects } = step(before, input, env);
      if (process.env.SIMULATION_TRACE) console.log(JSON.stringify({ input, effects, master: state.master, floor: state.floor, anchor: state.anchor, awaiting: state.awaiting, configured: env.sentinels.filter((f) => f.configured).map((f) => f.sentinel), alive: env.sentinels.filter((f) => f.alive).map((f) => f.sentinel) }));
      for (const e of effects) if (e.type === 'probe') w.outstanding.push({ target: e.target, seq: e.seq });
      checkStep(w, before, input, state, effects, env);
      for (const e of effects) if (e.type === 'confirm' || e.type === 'hold') count(e.type === 'confirm' ? `confirm ${e.kind}` : `hold ${e.code}`);
      if (state.floor < before.floor) count('floor lowered');
      w.state = state;
    }
  }
}

const RUNS = Number(process.env.SIMULATION_RUNS ?? 10_000);

describe('decision core, simulated schedules', () => {
  it(`keeps the five invariants over ${RUNS} generated schedules`, () => {
    // SIMULATION_REPLAY='<schedule>': replay one counterexample (with SIMULATION_TRACE=1, step by step).
    if (process.env.SIMULATION_REPLAY) return run(JSON.parse(process.env.SIMULATION_REPLAY) as Command[]);
    const details = fc.check(fc.property(fc.array(command, { minLength: 5, maxLength: 80 }), (commands) => run(commands)), { numRuns: RUNS });
    // The shrunk schedule and the broken invariant, in one message (replay it with SIMULATION_REPLAY).
    if (details.failed) assert.fail(`${fc.defaultReportMessage(details)}\n${String(details.errorInstance)}`);
    const wanted = ['confirm first', 'confirm failover', 'confirm reset', 'confirm refresh', 'floor lowered', 'hold probe-failed', 'hold below-floor', 'hold no-quorum', 'hold split-vote', 'hold failover-in-progress', 'hold unrelated-groups', 'hold waiting-for-sentinels'];
    if (RUNS >= 10_000) for (const what of wanted) assert.ok((reached.get(what) ?? 0) > 0, `no schedule reached "${what}": ${JSON.stringify(Object.fromEntries(reached))}`);
  });


  it('the same schedule always gives the same effects (no hidden clock or state)', () => {
    fc.assert(
      fc.property(fc.array(command, { maxLength: 40 }), (commands) => {
        const trace = () => {
          const w = new World();
          const out: Effect[][] = [];
          for (const cmd of [...PROLOGUE, ...commands].flatMap(expand)) {
            for (const input of w.inputs(cmd as Exclude<Command, { c: 'story' }>)) {
              const r = step(w.state, input, w.env());
              for (const e of r.effects) if (e.type === 'probe') w.outstanding.push({ target: e.target, seq: e.seq });
              w.state = r.state;
              out.push(r.effects);
            }
          }
          return out;
        };
        assert.deepEqual(trace(), trace());
      }),
      { numRuns: 300 },
    );
  });

  it('follows a plain failover: views, an announcement, a probe, a confirmation', () => {
    const w = new World();
    const feed = (cmd: Exclude<Command, { c: 'story' }>) => {
      const [input] = w.inputs(cmd);
      if (!input) return [];
      const r = step(w.state, input, w.env());
      for (const e of r.effects) if (e.type === 'probe') w.outstanding.push({ target: e.target, seq: e.seq });
      w.state = r.state;
      return r.effects;
    };
    for (const cmd of PROLOGUE) feed(cmd as Exclude<Command, { c: 'story' }>);
    for (const i of [0, 1, 2]) feed({ c: 'view', s: i, kind: 0, a: 0, epoch: 0, flags: 0 });
    assert.equal(w.state.master, null, 'not confirmed before the probe answers');
    const confirmed = feed({ c: 'answer', k: 0, truthful: true, ok: false });
    assert.deepEqual(confirmed.find((e) => e.type === 'confirm'), { type: 'confirm', kind: 'first', master: ADDRS[0], previous: null, configEpoch: 1, agreeing: ['s1:1', 's2:1', 's3:1'], announcedAt: null, sinceAnnouncementMs: null });
    feed({ c: 'failover', a: 1, rebuilt: false });
    feed({ c: 'announce', s: 1, a: 1 });
    feed({ c: 'view', s: 0, kind: 0, a: 0, epoch: 0, flags: 0 });
    assert.deepEqual(w.state.master, ADDRS[0], 'one sentinel is not a quorum');
    feed({ c: 'view', s: 1, kind: 0, a: 0, epoch: 0, flags: 0 });
    assert.deepEqual(w.state.master, ADDRS[0], 'two of the four counted sentinels (s4 is listed as a peer) are not a quorum');
    feed({ c: 'view', s: 2, kind: 0, a: 0, epoch: 0, flags: 0 });
    const answer = feed({ c: 'answer', k: 0, truthful: true, ok: false });
    assert.equal(answer.flatMap((e) => (e.type === 'confirm' ? [e.kind] : [])).join(), 'failover');
    assert.deepEqual(w.state.master, ADDRS[1]);
    assert.equal(w.state.floor, 2);
  });
});
