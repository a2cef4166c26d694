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
  const child = spawn(process.execPath, argv, {
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

/** Wait until the daemon logs that its API is listening. */
export async function waitListening(d: DaemonProcess, timeoutMs = 15000): Promise<void> {
  await waitFor(() => {
    if (d.child.exitCode !== null) throw new Error(`daemon exited (${d.child.exitCode}): ${d.stderr()}\n${d.stdout().slice(-2000)}`);
    return d.logs().some((l) => l.msg === 'API listening');
  }, { timeoutMs, what: 'daemon API listening' });
}
