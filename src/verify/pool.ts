/**
 * Run `fn` over `items`, at most `limit` at a time, item i not started before `i * gapMs`: the
 * periodic check of 1,000 clusters is spread over the interval instead of opening 1,000
 * connections (and 1,000 proxy sessions) at once.
 */
export async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>, opts: { gapMs?: number; stopped?: () => boolean } = {}): Promise<void> {
  const started = Date.now();
  const gap = opts.gapMs ?? 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= items.length || opts.stopped?.()) return;
      const wait = started + i * gap - Date.now();
      if (wait > 0) await sleep(wait);
      if (opts.stopped?.()) return;
      await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
