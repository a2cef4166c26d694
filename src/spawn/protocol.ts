/**
 * Messages between the daemon and the spawner helper: one JSON object per line. The helper's
 * stdin carries requests, its stdout events. Plain JSON lines rather than Node's IPC channel
 * (child_process 'ipc'): the helper's stdout is otherwise unused, the framing is ours to test,
 * and the end of stdin is an unambiguous "the daemon is gone" for the helper.
 */
export type Request =
  | { op: 'run'; id: number; file: string; args: string[]; env: NodeJS.ProcessEnv; cwd: string; input?: string; maxOutput: number }
  /** The caller has what it needs: the helper drops the command's pipes (a background child may hold them). */
  | { op: 'release'; id: number };

export type Event =
  | { ev: 'ready'; pid: number }
  | { ev: 'started'; id: number; pid: number | undefined; spawnMs: number }
  | { ev: 'out' | 'err'; id: number; data: string }
  | { ev: 'exit'; id: number; code: number | null; signal: NodeJS.Signals | null; runMs: number }
  | { ev: 'error'; id: number; message: string }
  | { ev: 'close'; id: number };

/** Splits a stream of text into lines; feeds each complete one to `onLine`. */
export function lineReader(onLine: (line: string) => void): (chunk: Buffer | string) => void {
  let rest = '';
  return (chunk) => {
    rest += chunk.toString();
    let nl;
    while ((nl = rest.indexOf('\n')) >= 0) {
      const line = rest.slice(0, nl);
      rest = rest.slice(nl + 1);
      if (line) onLine(line);
    }
  };
}
