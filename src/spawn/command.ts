import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';

/** How a command is started: the same for a direct spawn and one through the spawner helper. */
export interface CommandOptions {
  /** Defaults to the daemon's environment at the time of the call. */
  env?: NodeJS.ProcessEnv;
  /** Defaults to the daemon's working directory at the time of the call. */
  cwd?: string;
  /** Written to the command's standard input, which is then closed; without it stdin is /dev/null. */
  input?: string;
  /**
   * The caller keeps at most this many characters of stdout and stderr together: the helper stops
   * forwarding output beyond it (it still reads the pipes, so the command never blocks on them).
   */
  maxOutput: number;
}

/**
 * The part of a ChildProcess that shell.ts and deliver-exec.ts use, so that they do not care
 * whether the command was forked by the daemon or by the spawner helper. Events: 'exit'
 * (code, signal), 'error' (Error), 'close' (all output read).
 */
export interface CommandProcess {
  readonly pid: number | undefined;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Signals the command's whole process group (it runs in its own); quiet when it is gone. */
  killGroup(signal: NodeJS.Signals): void;
  on(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  on(event: 'close', listener: () => void): this;
  once(event: 'close', listener: () => void): this;
}

/** Signals the process group led by `pid` (commands are started with setsid, so pid = pgid). */
export function killProcessGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  try {
    if (pid !== undefined) process.kill(-pid, signal);
  } catch {
    // Group already gone.
  }
}

/** Forks the command from this process: the helper does this, and the daemon when the helper is unavailable. */
export function spawnDirect(file: string, args: readonly string[], opts: CommandOptions): CommandProcess {
  const child = spawn(file, args, {
    detached: true,
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (opts.input !== undefined && child.stdin) {
    child.stdin.on('error', () => {}); // a command that does not read stdin is fine
    child.stdin.end(opts.input);
  }
  return Object.assign(child, { killGroup: (signal: NodeJS.Signals) => killProcessGroup(child.pid, signal) }) as unknown as CommandProcess;
}
