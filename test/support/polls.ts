import { waitFor } from '../harness/index.js';

/** The poll counters of one sentinel as /api/sentinels and SentinelWatcher.sentinels() show them. */
export interface PollCounts {
  state: number;
  fullPolls: number;
  lightPolls: number;
}

/** Completed polls (full and cheap) of a sentinel; 0 while it is unknown. */
export function pollCount(s: PollCounts | undefined): number {
  return s ? s.fullPolls + s.lightPolls : 0;
}

/** The daemon's /api/sentinels, keyed by "host:port". */
export async function apiSentinels(api: string): Promise<Record<string, PollCounts>> {
  return ((await (await fetch(`${api}/api/sentinels`)).json()) as { sentinels: Record<string, PollCounts> }).sentinels;
}

/**
 * Waits until each sentinel of `keys` (default: every sentinel known now) has completed `more`
 * polls after this call. The first poll counted may have begun before the call, so `more` is at
 * least 2: then one poll began after it, and what it read has been handled by the watcher. A
 * "nothing happened" check that follows is made after the daemon has seen the state, not after a
 * guessed delay.
 */
export async function waitForMorePolls(
  read: () => Promise<Record<string, PollCounts>> | Record<string, PollCounts>,
  opts: { what: string; keys?: string[]; more?: number; timeoutMs?: number },
): Promise<void> {
  const more = Math.max(2, opts.more ?? 2);
  const start = await read();
  const keys = opts.keys ?? Object.keys(start);
  if (keys.length === 0) throw new Error(`waitForMorePolls (${opts.what}): no sentinel to wait for`);
  const from = new Map(keys.map((k) => [k, pollCount(start[k])]));
  await waitFor(
    async () => {
      const now = await read();
      return keys.every((k) => pollCount(now[k]) >= from.get(k)! + more);
    },
    { timeoutMs: opts.timeoutMs ?? 15000, what: `${more} more polls of ${keys.join(', ')} (${opts.what})` },
  );
}
