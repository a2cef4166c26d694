import { joinHostPort, sameAddress } from '../config/address.js';
import type { ClusterState, MasterAddress } from '../topology/types.js';
import type { Failure, Identity, ReadExpectation, Reached, RouteState, Verdict } from './types.js';

/**
 * The decisions of verification, pure so they are tested without a proxy: what one check found,
 * what that means while an apply is still taking effect, and whether a wrong route is applied
 * again. Nothing here (nor anywhere in src/verify) changes what is confirmed.
 */

const failed = (x: unknown): x is Failure => typeof x === 'object' && x !== null && 'error' in x;

/** Through a proxy: the instance that answered the door against the confirmed master (asked directly). */
export function judgeDoor(door: Identity | Failure, master: Identity | Failure): Verdict {
  if (failed(door)) return doorFailed(door);
  if (failed(master)) return { state: 'unreachable', error: `the confirmed master did not answer: ${master.error}` };
  if (master.runId === '') return { state: 'unreachable', error: 'the confirmed master gives no run_id (INFO server refused?): nothing to compare' };
  if (door.runId === master.runId) return { state: 'verified' };
  return { state: 'wrong', reached: { runId: door.runId || '(none)', role: door.role, ...(door.tcpPort !== null ? { address: `:${door.tcpPort}` } : {}) } };
}

/** Nothing answered through the door: the verdict whatever the master says. */
export function doorFailed(door: Failure): Verdict & { state: 'unreachable' } {
  return { state: 'unreachable', error: `through the front door: ${door.error}` };
}

/**
 * Where a cluster's read door must lead now; null when it has none to check: no ExternalReadPort,
 * no confirmed master, or the pool not computed yet (the first ROLE of the master is on its way).
 * The same rule as the outputs' (`replicas` then `ReadFallbackToMaster`, default on) and the
 * API's `readPool.target`.
 */
export function readExpectation(c: ClusterState): ReadExpectation | null {
  if (!c.master || !c.externalReadPort || !c.readPool) return null;
  const serving = c.readPool.serving;
  if (serving.length > 0) return { target: 'replicas', members: serving.map((r) => joinHostPort(r.ip, r.port)) };
  if (c.readFallbackToMaster ?? true) return { target: 'master', members: [joinHostPort(c.master.ip, c.master.port)] };
  return { target: 'none', members: [] };
}

/** An instance a read door may lead to (or the confirmed master, to name it), asked directly. */
export interface KnownInstance {
  address: string;
  identity: Identity | Failure;
}

const reachedOf = (door: Identity, known: readonly KnownInstance[]): Reached => {
  // Name the instance when it is one redishappy asked directly (the master while replicas serve);
  // otherwise INFO's own port is all there is.
  const named = door.runId !== '' ? known.find((k) => !failed(k.identity) && k.identity.runId === door.runId) : undefined;
  return { runId: door.runId || '(none)', role: door.role, ...(named ? { address: named.address } : door.tcpPort !== null ? { address: `:${door.tcpPort}` } : {}) };
};

/**
 * Through a read door: the instance that answered against the pool it must reach (each member
 * asked directly, as the master is for a write door). Identified by run_id, not by tcp_port and
 * role: replicas on different hosts usually share port 6379, and a replica of the right master
 * that LEFT the pool (lagging, link down) still says `slave` with the right master_host: only its
 * run_id tells it from the members.
 *
 * - replicas / master: verified when it is one of `members` (servedBy names it); wrong when it is
 *   another instance (the master while replicas serve is wrong too: the read slots are not
 *   serving, the backup took the read, and the master carries load the pool exists to keep off
 *   it); unreachable when the door answers nothing, or a member did not answer and nothing else
 *   matched (it may be the one reached: nothing to compare).
 * - none (no serving replica, ReadFallbackToMaster false): the door must refuse, so a refused or
 *   closed connection is verified (`refused` keeps the error), and any instance answering is wrong.
 *
 * `others`: instances that are not members but can be named when reached (the confirmed master).
 */
export function judgeReadDoor(door: Identity | Failure, expected: ReadExpectation, members: readonly KnownInstance[], others: readonly KnownInstance[] = []): Verdict {
  if (expected.target === 'none') {
    if (failed(door)) return { state: 'verified', refused: door.error };
    return { state: 'wrong', reached: reachedOf(door, others) };
  }
  if (failed(door)) return { state: 'unreachable', error: `through the read door: ${door.error}` };
  if (door.runId !== '') {
    const hit = members.find((m) => !failed(m.identity) && m.identity.runId === door.runId);
    if (hit) return { state: 'verified', servedBy: hit.address };
  }
  const silent = members.find((m) => failed(m.identity) || m.identity.runId === '');
  if (silent) {
    const why = failed(silent.identity) ? `did not answer: ${silent.identity.error}` : 'gives no run_id (INFO server refused?)';
    return { state: 'unreachable', error: `read pool member ${silent.address} ${why}: nothing to compare` };
  }
  if (members.length === 0) return { state: 'unreachable', error: 'no read pool member to compare with' };
  return { state: 'wrong', reached: reachedOf(door, others) };
}

/** In a registry: the entry read back against the confirmed master's address. */
export function judgeEntry(entry: MasterAddress | null | Failure, master: MasterAddress): Verdict {
  if (failed(entry)) return { state: 'unreachable', error: `reading the entry back: ${entry.error}` };
  if (entry === null) return { state: 'wrong', reached: { address: '(no entry)' } };
  if (sameAddress(entry, master)) return { state: 'verified' };
  return { state: 'wrong', reached: { address: joinHostPort(entry.ip, entry.port) } };
}

/** What the proxy of the last apply is allowed before a verdict counts (ms since epoch). */
export interface ApplyWindow {
  /** Before this, the previous configuration may still take connections: a success proves nothing. */
  settleUntil: number;
  /** From this on, a failure is a failure: the apply had time to take effect. */
  deadline: number;
}

/**
 * How long an apply may take to take effect before a route that does not reach the new master is
 * wrong. nginx needs ~100 ms, an HAProxy reload less; 1 s leaves room on a loaded host and keeps
 * "a ReloadCommand that reloads nothing" found within 2 s.
 */
export const PENDING_DEADLINE_MS = 1000;

export function applyWindow(appliedAt: number, settleMs: number): ApplyWindow {
  return { settleUntil: appliedAt + settleMs, deadline: appliedAt + Math.max(PENDING_DEADLINE_MS, settleMs) };
}

/**
 * A check that started at `startedAt` within an apply's window: `pending` while the apply may
 * still be taking effect, else the verdict itself. A periodic check (no apply) has no window.
 */
export function stateAt(verdict: Verdict, startedAt: number, window: ApplyWindow | null): RouteState {
  if (!window) return verdict.state;
  if (verdict.state === 'verified') return startedAt >= window.settleUntil ? 'verified' : 'pending';
  return startedAt >= window.deadline ? verdict.state : 'pending';
}

/**
 * After a wrong verdict: apply again (the output's backoff before it), or report and stop (the
 * retries are used up: never a reload storm), or nothing more (already reported).
 */
export function afterWrong(retries: number, maxRetries: number, gaveUp: boolean): 'retry' | 'give-up' | 'reported' {
  if (gaveUp) return 'reported';
  return retries < maxRetries ? 'retry' : 'give-up';
}

/**
 * Whether applying again could help a door that did not answer. Not when the master does not
 * answer either (it is down; a failover is coming), nor when nothing listens at the door (no proxy
 * there, or a Verify address that is not the proxy's): only a door that takes the connection and
 * gets no answer behind it may be a reload the proxy dropped.
 */
export function applyAgainMayHelp(door: Identity | Failure, master: Identity | Failure): boolean {
  return !failed(master) && !doorRefused(door);
}

/** Nothing listens at the door (the connection was refused). */
export function doorRefused(door: Identity | Failure): boolean {
  return failed(door) && /ECONNREFUSED/.test(door.error);
}
