import { stat } from 'node:fs/promises';
import { readIfExists } from './apply-file.js';

/**
 * The output file's text as last read, kept with the stat it was read under, so an apply that
 * finds the same stat uses it instead of reading the file again. On a failover the file on disk
 * stands between the confirmation and a live switch: one stat is one wait on the disk thread
 * pool, a read is four in a row (open, fstat, read, close), each a wake-up of the event loop that
 * costs milliseconds on a loaded host (bench/README.md, "where the time after +switch-master goes").
 *
 * Safe against edits by others: the stat is taken before the read, so a change between the two
 * only makes the next stat differ; any write changes mtime and ctime (ctime cannot be set from
 * user space) and an atomic replace changes the inode. A file whose ctime is within RACY_MS of
 * now is read anyway, as git does for "racily clean" entries: on a file system with coarse
 * timestamps a same-size rewrite in the same tick would keep the stat.
 */
export const RACY_MS = 2000;

interface Stat {
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

const same = (a: Stat, b: Stat) => a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;

/** Whether the text read under `known` stands for a file that stats as `now` (pure). */
export function knownStillHolds(known: Stat, current: Stat, nowMs: number): boolean {
  return same(known, current) && nowMs - current.ctimeMs > RACY_MS;
}

export class KnownFile {
  private known: { stat: Stat; text: string } | null = null;
  /** Reads of the file itself (not stats), for tests and counters. */
  reads = 0;

  constructor(
    readonly path: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** The file's text, or null when it does not exist. */
  async read(): Promise<string | null> {
    let current: Stat;
    try {
      const st = await stat(this.path);
      current = { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      this.known = null;
      return null;
    }
    if (this.known && knownStillHolds(this.known.stat, current, this.now())) return this.known.text;
    this.reads++;
    const text = await readIfExists(this.path);
    this.known = text === null ? null : { stat: current, text };
    return text;
  }

  /** Reads the file again now (after a write of ours), so the next failover finds it known. */
  async refresh(): Promise<void> {
    this.known = null;
    await this.read();
  }
}
