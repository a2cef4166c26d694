import { spawnCommand } from '../../spawn/spawner.js';

export interface ShellResult {
  ok: boolean;
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** stdout and stderr interleaved as they arrived, capped. */
  output: string;
  durationMs: number;
}

const MAX_OUTPUT = 64 * 1024;
/** After SIGTERM on timeout, how long the group gets before SIGKILL. */
const KILL_GRACE_MS = 1000;
/** After the shell exits, how long we wait for a lingering child to release the pipes. */
const DRAIN_MS = 200;

/** Quotes a value for /bin/sh so a path with spaces or quotes stays one word. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * Runs `/bin/sh -c command` in its own process group with a deadline. The original ran the
 * reload with no timeout and lost stderr; a hung command blocked every failover behind it.
 * On timeout the whole group is killed (the shell and whatever it started in the foreground).
 */
export function runShell(command: string, timeoutMs: number): Promise<ShellResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    let output = '';
    let truncated = false;
    let timedOut = false;
    let settled = false;
    const append = (chunk: Buffer) => {
      if (truncated) return;
      output += chunk.toString('utf8');
      if (output.length > MAX_OUTPUT) {
        output = output.slice(0, MAX_OUTPUT) + '\n[output truncated]';
        truncated = true;
      }
    };
    const child = spawnCommand('/bin/sh', ['-c', command], { maxOutput: MAX_OUTPUT });
    child.stdout.on('data', append);
    child.stderr.on('data', append);

    const killGroup = (signal: NodeJS.Signals) => child.killGroup(signal);
    const deadline = setTimeout(() => {
      timedOut = true;
      killGroup('SIGTERM');
      // Not cancelled when the shell exits: children that ignore SIGTERM must go too.
      setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS).unref();
    }, timeoutMs);

    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      // A background child (e.g. a daemonising reload) may hold the pipes open: don't wait for it.
      const drained = new Promise<void>((r) => {
        if (child.stdout.readableEnded && child.stderr.readableEnded) return r();
        const t = setTimeout(r, DRAIN_MS);
        child.once('close', () => {
          clearTimeout(t);
          r();
        });
      });
      void drained.then(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        resolve({ ok: !timedOut && code === 0, code, signal, timedOut, output: output.trim(), durationMs: Math.round(performance.now() - started) });
      });
    };
    child.on('exit', finish);
    child.on('error', (err) => {
      output += `${output ? '\n' : ''}${err.message}`;
      finish(null, null);
    });
  });
}

/** One line for logs and errors: "exit status 1", "killed after 10000 ms (timeout)"... */
export function describeShellFailure(r: ShellResult, timeoutMs: number): string {
  if (r.timedOut) return `timed out after ${timeoutMs} ms and was killed`;
  if (r.signal) return `killed by ${r.signal}`;
  if (r.code === null) return 'could not be started';
  return `exit status ${r.code}`;
}
