import { joinHostPort, sameAddress } from '../config/address.js';
import type { MasterAddress } from '../topology/types.js';
import type { Failure, Identity, RouteState, Verdict } from './types.js';

/**
 * The decisions of verification, pure so they are tested without a proxy: what one check found,
 * what that means while an apply is still taking effect, and whether a wrong route is applied
 * again. Nothing here (nor anywhere in src/verify) changes what is confirmed.
 */

const failed = (x: unknown): x is Failure => typeof x === 'object' && x !== null && 'error' in x;

/** Through a proxy: the instance that answered the door against the confirmed master (asked directly). */
export function judgeDoor(door: Identity | Failure, master: Identity | Failure): Verdict {
  if (failed(door)) return { state: 'unreachable', error: `through the front door: ${door.error}` };
  if (failed(master)) return { state: 'unreachable', error: `the confirmed master did not answer: ${master.error}` };
  if (master.runId === '') return { state: 'unreachable', error: 'the confirmed master gives no run_id (INFO server refused?): nothing to compare' };
  if (door.runId === master.runId) return { state: 'verified' };
  return { state: 'wrong', reached: { runId: door.runId || '(none)', role: door.role, ...(door.tcpPort !== null ? { address: `:${door.tcpPort}` } : {}) } };
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
