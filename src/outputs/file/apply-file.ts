import { open, readFile, readdir, realpath, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { runShell, shellQuote, type ShellResult } from './shell.js';

/**
 * Writing an output file (HAProxy, nginx, any template output) safely. The original truncated the live file in place (a crash or a
 * full disk left HAProxy with half a config) and never ran `haproxy -c`. Here a candidate is
 * written next to the target, checked, fsynced and renamed over it, so the target is always
 * either the old or the new file.
 */

/** Unique across output instances in this process (a config reload creates a new output). */
let tmpCounter = 0;

/** Current content, or null when the file does not exist. */
export async function readIfExists(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** The file to replace: a symlinked OutputPath keeps its link, the target gets replaced. */
async function resolveTarget(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return path;
    throw err;
  }
}

export interface Candidate {
  /** The real file that will be replaced. */
  target: string;
  tmpPath: string;
}

/**
 * Writes `text` to `.<basename>.redishappy-<pid>-<n>.tmp` beside the target, fsynced, with the old
 * file's mode (else 0644). `kind` "next" names a candidate written ahead for a likely next state
 * (kept while the daemon runs; see prevalidate.ts), so it is not taken for a stray temp file.
 */
export async function writeCandidate(outputPath: string, text: string, kind: 'tmp' | 'next' = 'tmp'): Promise<Candidate> {
  const target = await resolveTarget(outputPath);
  const tmpPath = join(dirname(target), `.${basename(target)}.redishappy-${process.pid}-${++tmpCounter}.${kind}`);
  let mode = 0o644;
  let owner: { uid: number; gid: number } | null = null;
  try {
    const st = await stat(target);
    mode = st.mode & 0o7777;
    owner = { uid: st.uid, gid: st.gid };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const fh = await open(tmpPath, 'wx', 0o600);
  try {
    await fh.writeFile(text, 'utf8');
    // Explicit: the umask must not change the mode HAProxy (or its user) relies on.
    await fh.chmod(mode);
    if (owner && (owner.uid !== process.getuid?.() || owner.gid !== process.getgid?.())) {
      await fh.chown(owner.uid, owner.gid).catch(() => undefined); // Best effort; only root can.
    }
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await unlink(tmpPath).catch(() => undefined);
    throw err;
  }
  await fh.close();
  return { target, tmpPath };
}

/** Discards a candidate that will not be used. */
export async function discardCandidate(c: Candidate): Promise<void> {
  await unlink(c.tmpPath).catch(() => undefined);
}

/**
 * Renames the candidate over the target. The directory must then be fsynced (`syncDirOf`) so the
 * rename survives a power loss; the caller may overlap that with the reload, which only needs the
 * rename to be visible.
 */
export async function renameCandidate(c: Candidate): Promise<void> {
  try {
    await rename(c.tmpPath, c.target);
  } catch (err) {
    await discardCandidate(c);
    throw err;
  }
}

/** Renames the candidate over the target and fsyncs the directory so the rename survives a crash. */
export async function commitCandidate(c: Candidate): Promise<void> {
  await renameCandidate(c);
  await syncDirOf(c);
}

/** Fsyncs the directory holding the candidate's target. */
export function syncDirOf(c: Candidate): Promise<void> {
  return fsyncDir(dirname(c.target));
}

/** True when the candidate file still holds exactly `text` (a staged file is checked before use). */
export async function candidateHolds(c: Candidate, text: string): Promise<boolean> {
  try {
    return (await readFile(c.tmpPath, 'utf8')) === text;
  } catch {
    return false;
  }
}

async function fsyncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // Some file systems refuse fsync on directories; the rename itself is still atomic.
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

/** Replaces the file's content atomically (no validation). */
export async function writeAtomic(outputPath: string, text: string): Promise<void> {
  await commitCandidate(await writeCandidate(outputPath, text));
}

/** Puts back what was there before: the old content, or no file at all. */
export async function restoreFile(outputPath: string, previous: string | null): Promise<void> {
  if (previous !== null) {
    await writeAtomic(outputPath, previous);
    return;
  }
  try {
    await unlink(await resolveTarget(outputPath));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** Shown in logs and errors instead of the whole output of a command (validate, reload). */
export function firstLines(text: string, max = 2000): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** Runs the validate command with `{file}` replaced by the candidate's shell-quoted path. */
export function validateCandidate(command: string, c: Candidate, timeoutMs: number): Promise<ShellResult> {
  return runShell(command.replaceAll('{file}', shellQuote(c.tmpPath)), timeoutMs);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes candidates left beside the output file by a run that died mid-apply (kill -9 during
 * validation): `.<basename>.redishappy-<pid>-<n>.tmp` (or `.next`, written ahead) whose pid is not a live process. Returns
 * the paths removed. Candidates of live processes (another daemon, this one) are left alone.
 */
export async function cleanStaleCandidates(outputPath: string): Promise<string[]> {
  const target = await resolveTarget(outputPath);
  const dir = dirname(target);
  const prefix = `.${basename(target)}.redishappy-`;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(\d+)-\d+\.(?:tmp|next)$/.exec(name.slice(prefix.length));
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || pidAlive(pid)) continue;
    try {
      await unlink(join(dir, name));
      removed.push(join(dir, name));
    } catch {
      // Gone already or not ours to remove.
    }
  }
  return removed;
}
