import { spawnCommand } from '../../spawn/spawner.js';
import type { ExecHook } from './config.js';
import { hookEnv, type HookEvent } from './payload.js';

const MAX_OUTPUT = 4096;

export class PermanentError extends Error {}

/**
 * Run the command with the event as JSON on stdin and as REDISHAPPY_* variables. Resolves with
 * its output on exit 0; rejects on another exit code or on timeout (the whole process group is killed).
 */
export function runExecHook(hook: ExecHook, event: HookEvent, signal: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const [cmd, args] = hook.Shell ? ['/bin/sh', ['-c', hook.Command, 'redishappy-hook', ...hook.Args]] : [hook.Command, hook.Args];
    const child = spawnCommand(cmd, args, { input: JSON.stringify(event), env: { ...process.env, ...hookEnv(event) }, maxOutput: MAX_OUTPUT });
    let output = '';
    const collect = (d: Buffer) => {
      if (output.length < MAX_OUTPUT) output += d.toString().slice(0, MAX_OUTPUT - output.length);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const killGroup = () => child.killGroup('SIGKILL');
    const timer = setTimeout(() => {
      killGroup();
      finish(new Error(`timed out after ${hook.TimeoutMs}ms`));
    }, hook.TimeoutMs);
    const onAbort = () => {
      killGroup();
      finish(new PermanentError('stopped'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    let done = false;
    function finish(err: Error | null) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      if (err) reject(Object.assign(err, { output }));
      else resolve(output);
    }
    child.on('error', (err) => finish(new PermanentError(`cannot run ${hook.Command}: ${err.message}`)));
    child.on('exit', (code, sig) => finish(code === 0 ? null : new Error(sig ? `killed by ${sig}` : `exited with code ${code}`)));
  });
}
