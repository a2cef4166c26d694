import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, tmpdir, totalmem } from 'node:os';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Cleanup } from '../test/harness/index.js';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** One daemon the bench drives through its command line: {config} and {bind} are filled in. */
export interface DaemonSpec {
  /** "ours" (this repository, or BENCH_DAEMON_CMD) or "baseline" (BENCH_BASELINE_CMD). */
  key: 'ours' | 'baseline';
  template: string;
}

// As the launchers run it (bin/*.js shebang, the packages' wrappers): a 1 MB young generation.
const OURS = `${process.execPath} --max-semi-space-size=1 ${ROOT}bin/redishappy-haproxy.js -config {config} -bind {bind} --log-level warn`;

/** The daemons to measure: ours, and the baseline when BENCH_BASELINE_CMD is set. */
export function daemonSpecs(): DaemonSpec[] {
  const specs: DaemonSpec[] = [{ key: 'ours', template: process.env.BENCH_DAEMON_CMD ?? OURS }];
  if (process.env.BENCH_BASELINE_CMD) specs.push({ key: 'baseline', template: process.env.BENCH_BASELINE_CMD });
  return specs;
}

export function commandLine(spec: DaemonSpec, config: string, bind: string): string[] {
  return spec.template.replaceAll('{config}', config).replaceAll('{bind}', bind).split(' ').filter(Boolean);
}

export interface RunningDaemon {
  child: ChildProcess;
  /** SIGKILL and wait for the exit. */
  stop(): Promise<void>;
}

export function startDaemon(cleanup: Cleanup, spec: DaemonSpec, config: string, bind: string): RunningDaemon {
  const [cmd, ...args] = commandLine(spec, config, bind);
  // The original logs every API request on stderr: only ours keeps it (its warnings and errors).
  // Standard output (our log lines, warn and above) goes to $TMPDIR/rh-bench-<key>.log, for a look after a failed run.
  const out = openSync(join(tmpdir(), `rh-bench-${spec.key}.log`), 'a');
  // Ours as its launchers start it (bin/*.js's shebang, the packages' launch script): one malloc arena.
  const env = spec.key === 'ours' ? { ...process.env, MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '1' } : process.env;
  const child = spawn(cmd!, args, { stdio: ['ignore', out, spec.key === 'ours' ? 'inherit' : 'ignore'], cwd: ROOT, env });
  closeSync(out);
  // A command that cannot be run (wrong path) fails its scenario instead of the whole bench.
  child.once('error', (err) => console.error(`bench: ${spec.key}: ${err.message}`));
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  cleanup.add(stop);
  return { child, stop };
}

/** Resident memory (bytes) and CPU time (ms) of a process, from /proc. */
export function procStats(pid: number): { rss: number; cpuMs: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const ticks = Number(stat[11]) + Number(stat[12]);
  return { rss, cpuMs: (ticks * 1000) / 100 };
}

export function percentiles(samples: number[]): { n: number; p50: number; p95: number; max: number; min: number } {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
  return { n: s.length, min: s[0] ?? NaN, p50: at(0.5), p95: at(0.95), max: s.at(-1) ?? NaN };
}

/** How our daemon is launched: the bundle when dist/ has one (bin/run.js picks it), else tsx. */
function ourLauncher(): string {
  if (process.env.BENCH_DAEMON_CMD) return 'BENCH_DAEMON_CMD';
  const bundled = existsSync(`${ROOT}dist/redishappy.cjs`) && process.env.REDISHAPPY_FROM_SOURCE !== '1';
  return bundled ? `bundle (dist/redishappy.js → redishappy.cjs, V8 code cache ${existsSync(`${ROOT}dist/redishappy.cjs.cache`) ? 'present' : 'absent'})` : 'tsx (TypeScript compiled at start)';
}

export function machine(): Record<string, unknown> {
  const version = (cmd: string, args: string[]) => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8' }).split('\n')[0];
    } catch {
      return 'unknown';
    }
  };
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memoryBytes: totalmem(),
    loadAverageAtWrite: (readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3)).join(' '),
    node: process.version,
    redis: version('redis-server', ['--version']),
    haproxy: version('/usr/sbin/haproxy', ['-v']),
    daemons: Object.fromEntries(daemonSpecs().map((s) => [s.key, s.template])),
    oursLauncher: ourLauncher(),
    date: new Date().toISOString(),
  };
}

export function writeResult(name: string, data: Record<string, unknown>): void {
  mkdirSync(`${ROOT}bench/results`, { recursive: true });
  writeFileSync(`${ROOT}bench/results/${name}.json`, `${JSON.stringify({ name, machine: machine(), ...data }, null, 2)}\n`);
}
