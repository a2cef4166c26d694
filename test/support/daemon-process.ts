import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Cleanup } from '../harness/index.js';
import { waitFor } from '../harness/index.js';

export const BIN_DIR = fileURLToPath(new URL('../../bin/', import.meta.url));

export interface DaemonProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
  /** JSON log lines parsed from stdout. */
  logs(): Array<Record<string, unknown>>;
}

/** Run one of the package's executables as a real child process, killed on cleanup. */
export function runBin(cleanup: Cleanup, bin: 'redishappy' | 'redishappy-haproxy' | 'redishappy-consul', args: string[], env: NodeJS.ProcessEnv = {}): DaemonProcess {
  return runNode(cleanup, [`${BIN_DIR}${bin}.js`, ...args], { REDISHAPPY_FROM_SOURCE: '1', ...env });
}

/** Run a Node script (the daemon in some form) as a real child process, output captured, killed on cleanup. */
export function runNode(cleanup: Cleanup, argv: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): DaemonProcess {
  return runProcess(cleanup, process.execPath, argv, env, cwd);
}

/** Run the daemon in any form (e.g. an installed /usr/bin/redis-haproxy) as a real child process, output captured, killed on cleanup. */
export function runProcess(cleanup: Cleanup, command: string, argv: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): DaemonProcess {
  const child = spawn(command, argv, {
    cwd,
    env: { ...process.env, REDISHAPPY_LOG_LEVEL: 'debug', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  cleanup.add(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    logs: () =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => {
          try {
            return JSON.parse(l) as Record<string, unknown>;
          } catch {
            return {};
          }
        }),
  };
}

/**
 * For a wait's `stopIf`: an exit of the daemon, with what it said, so the wait fails at once
 * (an "address already in use" exit is one retryOnPortClash starts again).
 */
export function daemonExited(d: DaemonProcess): string | undefined {
  if (d.child.exitCode === null && d.child.signalCode === null) return undefined;
  return `redishappy exited (${d.child.exitCode ?? d.child.signalCode}): ${d.stderr()}\n${d.stdout().slice(-2000)}`;
}

/**
 * `-bind` value for a daemon whose API only needs "some port": the kernel picks a free one when
 * the daemon binds it (no freePort race); `waitListening` returns where it landed.
 */
export const ANY_PORT = '127.0.0.1:0';

/** Where the daemon's API listens, from its "API listening" log line ("http://127.0.0.1:PORT", or a unix socket path). */
export function apiAddress(d: DaemonProcess): string | undefined {
  const line = d.logs().find((l) => l.msg === 'API listening');
  return line ? String(line.address) : undefined;
}

/** Wait until the daemon logs that its API is listening; resolves to its address (see apiAddress). */
export async function waitListening(d: DaemonProcess, timeoutMs = 15000): Promise<string> {
  return waitFor(() => apiAddress(d), {
    timeoutMs,
    what: 'daemon API listening',
    stopIf: () => daemonExited(d),
  });
}
